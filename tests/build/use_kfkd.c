/*
 * use_kfkd.c -- a program built against an installed libkfkd by
 * install_test.sh (pkg-config and find_package, shared and static): it
 * starts a broker in its own process on an ephemeral port with a data
 * folder of its own, connects to it, and stops it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <kfk/kfkd.h>

int
main(void)
{
    char dir[] = "/tmp/use-kfkd.XXXXXX", err[512];
    if (!mkdtemp(dir)) return 1;
    kfkd_conf *c = kfkd_conf_new();
    if (!c ||
        kfkd_conf_set(c, "listeners", "PLAINTEXT://127.0.0.1:0", err,
                      sizeof(err)) ||
        kfkd_conf_set(c, "log.dirs", dir, err, sizeof(err))) {
        fprintf(stderr, "libkfkd configuration failed: %s\n", err);
        return 1;
    }
    kfkd_conf_set_log_level(c, KFKD_LOG_WARN);
    kfkd *k = kfkd_open(c, err, sizeof(err));
    kfkd_conf_destroy(c);
    if (!k) {
        fprintf(stderr, "kfkd_open: %s\n", err);
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)kfkd_port(k))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    printf("libkfkd %s: broker on %s, data in %s: %s\n", kfkd_version(),
           kfkd_bootstrap(k), kfkd_datadir(k), rc == 0 ? "ok" : "no connect");
    kfkd_close(k);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return rc == 0 ? 0 : 1;
}
