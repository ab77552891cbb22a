/* hello.c: the ten-line integration of docs/sdk.md (node-locked). */
#include <stdio.h>
#include <ovsa.h>

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hello LICENSE ISV_CERT STATE_DIR\n");
        return 2;
    }

    ovsa_sdk_conf_t    conf = { .license = argv[1], .isv = argv[2],
                                .state_dir = argv[3] };
    ovsa_sdk_status_t  st;
    ovsa_sdk_t        *lic = ovsa_sdk_open(&conf, &st);

    if (lic == NULL || !ovsa_sdk_activate(lic, &st)
        || !ovsa_sdk_check(lic, &st))
    {
        fprintf(stderr, "not licensed: %s: %s\n", st.code_name, st.message);
        return 1;
    }

    printf("licensed until %lld%s\n", st.valid_until,
           st.cached ? " (offline: saved answer)" : "");
    /* ... the program ... */
    ovsa_sdk_close(lic);
    return 0;
}
