#define _GNU_SOURCE    /* struct ucred, SO_PEERCRED */

/*
 * peer.c: who may state the TLS client certificate to the backend.
 *
 * nginx tells the backend the hash of the client's certificate in the
 * header X-OVSA-Client-Cert-SHA256.  The backend believes it only from
 * nginx: on a unix-socket connection whose peer credentials (SO_PEERCRED,
 * taken when nginx connected) name a user or group of
 * backend.trusted_peers, or the backend's own user.  Over TCP anybody who
 * reaches the port could write the header, so it is never trusted there.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "backend.h"


/* Describes a TCP peer "tcp 127.0.0.1:4711" from its address. */
static void
ovsa_peer_inet(const struct sockaddr *sa, char *desc, size_t size)
{
    char  host[INET6_ADDRSTRLEN];

    host[0] = '\0';

    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
                  host, sizeof(host));
        snprintf(desc, size, "tcp %s:%u", host,
                 ntohs(((const struct sockaddr_in *) sa)->sin_port));

    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr,
                  host, sizeof(host));
        snprintf(desc, size, "tcp [%s]:%u", host,
                 ntohs(((const struct sockaddr_in6 *) sa)->sin6_port));

    } else {
        snprintf(desc, size, "address family %d", (int) sa->sa_family);
    }
}


int
ovsa_peer_trusted(struct MHD_Connection *conn, char *desc, size_t size)
{
    int                          fd, i;
    socklen_t                    len;
    struct ucred                 cred;
    struct sockaddr_storage      ss;
    const ovsa_conf_t           *conf;
    const union MHD_ConnectionInfo  *ci;

    snprintf(desc, size, "unknown peer");

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL) {
        return 0;
    }

    fd = ci->connect_fd;

    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *) &ss, &len) == -1) {
        snprintf(desc, size, "peer of fd %d: getsockname: %s", fd,
                 strerror(errno));
        return 0;
    }

    if (ss.ss_family != AF_UNIX) {
        len = sizeof(ss);
        if (getpeername(fd, (struct sockaddr *) &ss, &len) == -1) {
            snprintf(desc, size, "tcp peer: getpeername: %s",
                     strerror(errno));
        } else {
            ovsa_peer_inet((struct sockaddr *) &ss, desc, size);
        }
        return 0;
    }

    len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
        snprintf(desc, size, "unix peer: SO_PEERCRED: %s", strerror(errno));
        return 0;
    }

    snprintf(desc, size, "unix peer pid %ld uid %lu gid %lu",
             (long) cred.pid, (unsigned long) cred.uid,
             (unsigned long) cred.gid);

    if (cred.uid == geteuid()) {
        return 1;
    }

    conf = ovsa_backend.conf;

    for (i = 0; conf != NULL && i < conf->n_trusted_peers; i++) {
        if (conf->trusted_peers[i].group
            ? conf->trusted_peers[i].id == (unsigned int) cred.gid
            : conf->trusted_peers[i].id == (unsigned int) cred.uid)
        {
            return 1;
        }
    }

    return 0;
}
