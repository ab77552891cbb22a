/*
 * Throwaway probe (not product code): token signing in an nginx thread
 * pool with a watchdog, and a distinct master exit status on token loss.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sys/mman.h>
#include "ovsa_p11.h"

typedef struct {
    ovsa_p11_t          *h;
    ngx_http_request_t  *r;          /* NULL once the watchdog answered */
    ngx_event_t          watchdog;
    int                  rc;
    size_t               siglen;
    ovsa_err_t           err;
} ngx_ovsa_probe_task_t;

static ngx_int_t ngx_ovsa_probe_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_ovsa_probe_init_process(ngx_cycle_t *cycle);
static void ngx_ovsa_probe_exit_master(ngx_cycle_t *cycle);
static char *ngx_ovsa_probe_sign(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

static ngx_command_t ngx_ovsa_probe_commands[] = {
    { ngx_string("ovsa_probe_sign"), NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_ovsa_probe_sign, 0, 0, NULL },
    ngx_null_command
};

static ngx_http_module_t ngx_ovsa_probe_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

ngx_module_t ngx_ovsa_probe_module = {
    NGX_MODULE_V1, &ngx_ovsa_probe_ctx, ngx_ovsa_probe_commands,
    NGX_HTTP_MODULE, NULL, ngx_ovsa_probe_init_module,
    ngx_ovsa_probe_init_process, NULL, NULL, NULL,
    ngx_ovsa_probe_exit_master, NGX_MODULE_V1_PADDING
};

static ngx_atomic_t  *ngx_ovsa_probe_lost;
static int            ngx_ovsa_probe_no_exit;
static char           ngx_ovsa_probe_env[4][512];
static ovsa_p11_t    *ngx_ovsa_probe_h;
static ngx_str_t      ngx_ovsa_probe_pool = ngx_string("ovsa");
static ngx_event_t    ngx_ovsa_probe_exit_ev;
static ngx_connection_t ngx_ovsa_probe_dummy;

static ngx_int_t
ngx_ovsa_probe_init_module(ngx_cycle_t *cycle)
{
    static const char *names[4] = { "OVSA_PROBE_MODULE", "OVSA_PROBE_URI",
                                    "OVSA_PROBE_PIN_FILE", "OVSA_PROBE_TIMEOUT_MS" };
    char *v;
    int   i;

    for (i = 0; i < 4; i++) {
        v = getenv(names[i]);
        if (v) ngx_cpystrn((u_char *) ngx_ovsa_probe_env[i], (u_char *) v, 512);
    }
    ngx_ovsa_probe_no_exit = getenv("OVSA_PROBE_NO_EXIT") != NULL;
    if (ngx_ovsa_probe_lost == NULL) {
        ngx_ovsa_probe_lost = mmap(NULL, 4096, PROT_READ|PROT_WRITE,
                                   MAP_SHARED|MAP_ANONYMOUS, -1, 0);
        if (ngx_ovsa_probe_lost == MAP_FAILED) return NGX_ERROR;
    }
    return NGX_OK;
}

static ngx_int_t
ngx_ovsa_probe_init_process(ngx_cycle_t *cycle)
{
    char        pin[256];
    FILE       *f;
    ovsa_err_t  err;

    if (ngx_ovsa_probe_env[0][0] == '\0') return NGX_OK;
    f = fopen(ngx_ovsa_probe_env[2], "r");
    if (f == NULL || fgets(pin, sizeof(pin), f) == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno, "probe: PIN file");
        if (f) fclose(f);
        return NGX_ERROR;
    }
    fclose(f);
    pin[strcspn(pin, "\r\n")] = '\0';
    if (ovsa_p11_open(ngx_ovsa_probe_env[0], ngx_ovsa_probe_env[1], pin,
                      &ngx_ovsa_probe_h, &err) != OVSA_OK)
    {
        ngx_explicit_memzero(pin, sizeof(pin));
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "ovsa: hardware key: %s: %s",
                      ovsa_code_name(err.code), err.msg);
        return NGX_ERROR;
    }
    ngx_explicit_memzero(pin, sizeof(pin));
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "ovsa probe: token opened in worker %P", ngx_pid);
    return NGX_OK;
}

static void
ngx_ovsa_probe_exit_now(ngx_event_t *ev)
{
    /* A pool thread is stuck in the token: exit without joining it. */
    ngx_log_error(NGX_LOG_NOTICE, ev->log, 0, "ovsa probe: worker _exit(2)");
    _exit(2);
}

static void
ngx_ovsa_probe_token_lost(ngx_log_t *log, const char *why, int stuck)
{
    if (*ngx_ovsa_probe_lost == 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "ovsa: hardware key lost (%s): stopping nginx", why);
    }
    *ngx_ovsa_probe_lost = 1;
    if (kill(getppid(), SIGQUIT) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "ovsa probe: kill(master, SIGQUIT)");
    }
    if (stuck && !ngx_ovsa_probe_no_exit && !ngx_ovsa_probe_exit_ev.timer_set) {
        ngx_ovsa_probe_dummy.fd = (ngx_socket_t) -1;
        ngx_ovsa_probe_exit_ev.data = &ngx_ovsa_probe_dummy;
        ngx_ovsa_probe_exit_ev.handler = ngx_ovsa_probe_exit_now;
        ngx_ovsa_probe_exit_ev.log = log;
        ngx_add_timer(&ngx_ovsa_probe_exit_ev, 200);   /* let the 503 go out */
    }
}

static void
ngx_ovsa_probe_sign_thread(void *data, ngx_log_t *log)
{
    ngx_ovsa_probe_task_t *t = data;
    unsigned char *sig = NULL;

    t->rc = ovsa_p11_sign(t->h, EVP_sha256(), 1, (u_char *) "probe", 5,
                          &sig, &t->siglen, &t->err);
    OPENSSL_free(sig);
}

static void
ngx_ovsa_probe_answer(ngx_http_request_t *r, ngx_uint_t status, const char *text)
{
    ngx_buf_t   *b;
    ngx_chain_t  out;
    size_t       len = ngx_strlen(text);

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    b = ngx_create_temp_buf(r->pool, len);
    b->last = ngx_cpymem(b->last, text, len);
    b->last_buf = 1;
    out.buf = b; out.next = NULL;
    ngx_http_send_header(r);
    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
}

static void
ngx_ovsa_probe_sign_done(ngx_event_t *ev)
{
    ngx_ovsa_probe_task_t *t = ev->data;
    ngx_http_request_t    *r = t->r;
    char                   text[600];

    if (t->watchdog.timer_set) ngx_del_timer(&t->watchdog);
    if (r == NULL) {                     /* the watchdog already answered */
        ngx_free((u_char *) t - sizeof(ngx_thread_task_t));
        return;
    }
    r->main->blocked--;
    r->aio = 0;
    if (t->rc == OVSA_OK) {
        ngx_snprintf((u_char *) text, sizeof(text), "signed %uz bytes\n%Z", t->siglen);
        ngx_ovsa_probe_answer(r, NGX_HTTP_OK, text);
    } else {
        ngx_snprintf((u_char *) text, sizeof(text), "%s: %s\n%Z",
                     ovsa_code_name(t->err.code), t->err.msg);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "ovsa probe: %s", text);
        if (t->err.code == OVSA_E_P11_DEVICE || t->err.code == OVSA_E_P11_TOKEN) {
            ngx_ovsa_probe_token_lost(r->connection->log, t->err.msg, 0);
        }
        ngx_ovsa_probe_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE, text);
    }
    ngx_free((u_char *) t - sizeof(ngx_thread_task_t));
    ngx_http_run_posted_requests(r->connection);
}

static void
ngx_ovsa_probe_watchdog(ngx_event_t *ev)
{
    ngx_ovsa_probe_task_t *t = ev->data;
    ngx_http_request_t    *r = t->r;

    t->r = NULL;                         /* the task memory outlives r */
    r->main->blocked--;
    r->aio = 0;
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "ovsa probe: token did not answer in %s ms", ngx_ovsa_probe_env[3]);
    ngx_ovsa_probe_token_lost(r->connection->log, "sign timeout", 1);
    ngx_ovsa_probe_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE, "OVSA_E_P11_TIMEOUT\n");
}

static ngx_int_t
ngx_ovsa_probe_handler(ngx_http_request_t *r)
{
    ngx_thread_task_t      *task;
    ngx_thread_pool_t      *tp;
    ngx_ovsa_probe_task_t  *t;

    if (ngx_ovsa_probe_h == NULL) return NGX_HTTP_SERVICE_UNAVAILABLE;
    tp = ngx_thread_pool_get((ngx_cycle_t *) ngx_cycle, &ngx_ovsa_probe_pool);
    if (tp == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;

    /* Not from r->pool: a stuck thread may write here after r is gone. */
    task = ngx_calloc(sizeof(ngx_thread_task_t) + sizeof(ngx_ovsa_probe_task_t),
                      r->connection->log);
    if (task == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    t = (ngx_ovsa_probe_task_t *) (task + 1);
    task->ctx = t;
    t->h = ngx_ovsa_probe_h;
    t->r = r;
    task->handler = ngx_ovsa_probe_sign_thread;
    task->event.handler = ngx_ovsa_probe_sign_done;
    task->event.data = t;
    t->watchdog.handler = ngx_ovsa_probe_watchdog;
    t->watchdog.data = t;
    t->watchdog.log = r->connection->log;

    if (ngx_thread_task_post(tp, task) != NGX_OK) {
        ngx_free(task);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_add_timer(&t->watchdog, ngx_atoi((u_char *) ngx_ovsa_probe_env[3],
                                         ngx_strlen(ngx_ovsa_probe_env[3])));
    r->main->blocked++;
    r->aio = 1;
    r->main->count++;
    return NGX_DONE;
}

static char *
ngx_ovsa_probe_sign(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_ovsa_probe_handler;
    return NGX_CONF_OK;
}

static void
ngx_ovsa_probe_exit_master(ngx_cycle_t *cycle)
{
    if (ngx_ovsa_probe_lost && *ngx_ovsa_probe_lost) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "ovsa probe: master exits with status 3 (hardware key lost)");
        exit(3);
    }
}
