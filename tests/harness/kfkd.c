/*
 * kfkd.c -- the integration-test harness (see kfkd.h): a real kfkd per
 * test program, in its own temporary directory on an ephemeral port, and
 * blocking request/response calls over plain sockets.
 *
 * The broker's stdout and stderr go to files in the temporary directory
 * (never a pipe that could fill up and stall it); start-up waits for the
 * "kfkd listening on port N" line in the stdout file.
 *
 * KFK_TEST_BROKER=kafka: the life-cycle calls run tests/harness/kafka.py
 * (start, stop, kill9, restart, log, cleanup) and read the shell variables
 * it prints; everything that speaks the protocol needs only the port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  10000
#define IO_TIMEOUT_S     10

static void
binary_path(char *out, size_t n)
{
    const char *bd = getenv("KFK_BUILD_DIR");
    if (bd && *bd) {
        snprintf(out, n, "%s/bin/kfkd", bd);
        return;
    }
    /* Beside the test executable (both land in <build>/bin). */
    char self[1024];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        snprintf(out, n, "kfkd");
        return;
    }
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(out, n, "%s/kfkd", self);
}

static void kafka_dump_log(const kfkd_h *h);

void
kfkd_dump_log(const kfkd_h *h)
{
    if (h->kind == KFK_TEST_BROKER_KAFKA) {
        kafka_dump_log(h);
        return;
    }
    const char *names[] = {"kfkd.stdout", "kfkd.stderr"};
    for (size_t i = 0; i < 2; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s", h->dir, names[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        fprintf(stderr, "---- %s ----\n", path);
        char line[1024];
        while (fgets(line, sizeof(line), f))
            fputs(line, stderr);
        fclose(f);
    }
}

/* Wait for the port line; 0 with h->port set, -1 if kfkd died or timed
 * out. */
static int
wait_listening(kfkd_h *h)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/kfkd.stdout", h->dir);
    int64_t deadline = kfk_mono_ms() + START_TIMEOUT_MS;
    while (kfk_mono_ms() < deadline) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[256];
            while (fgets(line, sizeof(line), f)) {
                int port;
                if (sscanf(line, "kfkd listening on port %d", &port) == 1) {
                    fclose(f);
                    h->port = port;
                    return 0;
                }
            }
            fclose(f);
        }
        int st;
        pid_t r = waitpid(h->pid, &st, WNOHANG);
        if (r == h->pid) {
            fprintf(stderr, "kfkd exited during start-up (status %d)\n", st);
            h->pid = 0;
            h->last_status = st;
            kfkd_dump_log(h);
            return -1;
        }
        usleep(5000);
    }
    fprintf(stderr, "kfkd did not report its port within %d ms\n",
            START_TIMEOUT_MS);
    kfkd_dump_log(h);
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    h->pid = 0;
    return -1;
}

static int
spawn(kfkd_h *h)
{
    char bin[1024], listeners[64];
    /* keep_port: the same port again (SO_REUSEADDR lets kfkd bind it). */
    snprintf(listeners, sizeof(listeners), "listeners=PLAINTEXT://127.0.0.1:%d",
             h->keep_port ? h->port : 0);
    char logdirs[700], out[700], err[700];
    binary_path(bin, sizeof(bin));
    snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", h->datadir);
    snprintf(out, sizeof(out), "%s/kfkd.stdout", h->dir);
    snprintf(err, sizeof(err), "%s/kfkd.stderr", h->dir);
    char *argv[2 * KFKD_MAX_OVERRIDES + 8];
    int a = 0;
    argv[a++] = bin;
    argv[a++] = "--override";
    argv[a++] = listeners;
    argv[a++] = "--override";
    argv[a++] = logdirs;
    for (int i = 0; i < h->noverrides; i++) {
        argv[a++] = "--override";
        argv[a++] = h->overrides[i];
    }
    argv[a] = NULL;
    /* The previous run's port line must not be mistaken for this one's. */
    unlink(out);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        /* A broker must not outlive a test that crashed. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (o < 0 || e < 0) _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    h->pid = pid;
    h->port = 0;
    return wait_listening(h);
}

static int kafka_start(kfkd_h *h);
static int kafka_stop(kfkd_h *h);
static void kafka_kill9(kfkd_h *h);
static int kafka_restart(kfkd_h *h);
static void kafka_cleanup(kfkd_h *h);

int
kfkd_start(kfkd_h *h, ...)
{
    memset(h, 0, sizeof(*h));
    h->reaper_fd = -1;
    h->kind = kfk_test_broker_kind();
    if (h->kind == KFK_TEST_BROKER_KAFKA) {
        va_list ap;
        va_start(ap, h);
        const char *kv;
        while ((kv = va_arg(ap, const char *)) != NULL &&
               h->noverrides < KFKD_MAX_OVERRIDES)
            h->overrides[h->noverrides++] = strdup(kv);
        va_end(ap);
        signal(SIGPIPE, SIG_IGN);
        return kafka_start(h);
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(h->dir, sizeof(h->dir), "%s/kfk-test-XXXXXX", tmp);
    if (!mkdtemp(h->dir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", h->dir, strerror(errno));
        return -1;
    }
    snprintf(h->datadir, sizeof(h->datadir), "%s/data", h->dir);
    va_list ap;
    va_start(ap, h);
    const char *kv;
    while ((kv = va_arg(ap, const char *)) != NULL &&
           h->noverrides < KFKD_MAX_OVERRIDES)
        h->overrides[h->noverrides++] = strdup(kv);
    va_end(ap);
    signal(SIGPIPE, SIG_IGN);
    return spawn(h);
}

static int
wait_exit(kfkd_h *h, int timeout_ms)
{
    int64_t deadline = kfk_mono_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(h->pid, &st, WNOHANG);
        if (r == h->pid) break;
        if (r < 0 && errno != EINTR) return -1;
        if (kfk_mono_ms() > deadline) return -2;
        usleep(2000);
    }
    h->pid = 0;
    h->last_status = st;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

int
kfkd_stop(kfkd_h *h)
{
    if (h->kind == KFK_TEST_BROKER_KAFKA) return kafka_stop(h);
    if (!h->pid) return -1;
    kill(h->pid, SIGTERM);
    int rc = wait_exit(h, STOP_TIMEOUT_MS);
    if (rc == -2) {
        fprintf(stderr, "kfkd did not stop within %d ms: SIGKILL\n",
                STOP_TIMEOUT_MS);
        kill(h->pid, SIGKILL);
        rc = wait_exit(h, STOP_TIMEOUT_MS);
        return rc < 0 ? rc : 128 + SIGKILL;
    }
    if (rc != 0) kfkd_dump_log(h);
    return rc;
}

void
kfkd_kill9(kfkd_h *h)
{
    if (h->kind == KFK_TEST_BROKER_KAFKA) {
        kafka_kill9(h);
        return;
    }
    if (!h->pid) return;
    kill(h->pid, SIGKILL);
    wait_exit(h, STOP_TIMEOUT_MS);
}

int
kfkd_restart(kfkd_h *h)
{
    if (h->kind == KFK_TEST_BROKER_KAFKA) return kafka_restart(h);
    if (h->pid) kfkd_stop(h);
    return spawn(h);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void
kfkd_cleanup(kfkd_h *h)
{
    if (h->kind == KFK_TEST_BROKER_KAFKA) {
        kafka_cleanup(h);
        return;
    }
    if (h->pid) kfkd_stop(h);
    if (h->dir[0] && !getenv("KFK_TEST_KEEP"))
        nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < h->noverrides; i++)
        free(h->overrides[i]);
    h->noverrides = 0;
    h->dir[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* Apache Kafka through tests/harness/kafka.py.                        */

kfk_test_broker
kfk_test_broker_kind(void)
{
    const char *b = getenv("KFK_TEST_BROKER");
    return b && !strcmp(b, "kafka") ? KFK_TEST_BROKER_KAFKA
                                    : KFK_TEST_BROKER_KFKD;
}

const char *
kfk_test_broker_name(void)
{
    return kfk_test_broker_kind() == KFK_TEST_BROKER_KAFKA ? "kafka" : "kfkd";
}

static void
kafka_script(char *out, size_t n)
{
    const char *sd = getenv("KFK_SOURCE_DIR");
#ifdef KFK_TEST_SOURCE_DIR
    if (!sd || !*sd) sd = KFK_TEST_SOURCE_DIR;
#endif
    snprintf(out, n, "%s/tests/harness/kafka.py", sd && *sd ? sd : ".");
}

/* Run "python3 kafka.py args..." (args ended by NULL).  Its stdout goes
 * to out (NUL-terminated, truncated to n) when out is not NULL, else to
 * our stderr; its stderr to our stderr.  Returns its exit code, or -1. */
static int
run_py(char *out, size_t n, const char *const *args)
{
    char script[1024];
    kafka_script(script, sizeof(script));
    const char *argv[KFKD_MAX_OVERRIDES + 8];
    int a = 0;
    argv[a++] = "python3";
    argv[a++] = script;
    for (; *args && a < (int)KFK_ARRAY_LEN(argv) - 1; args++)
        argv[a++] = *args;
    argv[a] = NULL;
    int p[2] = {-1, -1};
    if (out && pipe2(p, O_CLOEXEC) < 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        dup2(out ? p[1] : 2, 1);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec python3: %s\n", strerror(errno));
        _exit(127);
    }
    size_t len = 0;
    if (out) {
        close(p[1]);
        for (;;) {
            char buf[4096];
            ssize_t r = read(p[0], buf, sizeof(buf));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            size_t c = KFK_MIN((size_t)r, n - 1 - len);
            memcpy(out + len, buf, c);
            len += c;
        }
        close(p[0]);
        out[len] = '\0';
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* KAFKA_DIR, KAFKA_PORT and KAFKA_PID from kafka.py's output. */
static int
parse_vars(kfkd_h *h, const char *out)
{
    const char *d = strstr(out, "KAFKA_DIR=");
    const char *p = strstr(out, "KAFKA_PORT=");
    const char *q = strstr(out, "KAFKA_PID=");
    if (!d || !p || !q) {
        fprintf(stderr, "kafka.py printed no KAFKA_DIR/PORT/PID:\n%s\n", out);
        return -1;
    }
    d += strlen("KAFKA_DIR=");
    size_t dl = strcspn(d, "\n");
    if (dl >= sizeof(h->dir)) return -1;
    memcpy(h->dir, d, dl);
    h->dir[dl] = '\0';
    snprintf(h->datadir, sizeof(h->datadir), "%s/node-1/data", h->dir);
    h->port = atoi(p + strlen("KAFKA_PORT="));
    h->pid = (pid_t)atoi(q + strlen("KAFKA_PID="));
    const char *v = strstr(out, "KAFKA_VERSION=");
    if (v) {
        v += strlen("KAFKA_VERSION=");
        fprintf(stderr, "Apache Kafka %.*s on port %d (%s)\n",
                (int)strcspn(v, "\n"), v, h->port, h->dir);
    }
    return h->port > 0 ? 0 : -1;
}

/* The watchdog: a process of its own session that waits on a pipe whose
 * write end only this program holds.  kafka_cleanup() writes a byte (the
 * watchdog exits); if the program dies first (a crash, a ctest timeout),
 * the read sees EOF and the watchdog runs "kafka.py cleanup", so no JVM
 * outlives its test. */
static void
start_reaper(kfkd_h *h)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return;
    char script[1024];
    kafka_script(script, sizeof(script));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        setsid();
        for (int fd = 3; fd < 1024; fd++)
            if (fd != p[0]) close(fd);
        char c;
        ssize_t r;
        while ((r = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        if (r == 1) _exit(0);
        setenv("KFK_KAFKA_FAST_CLEANUP", "1", 1);
        execlp("python3", "python3", script, "cleanup", h->dir, (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    h->reaper = pid;
    h->reaper_fd = p[1];
}

static void
stop_reaper(kfkd_h *h)
{
    if (h->reaper_fd < 0) return;
    (void)!write(h->reaper_fd, "x", 1);
    close(h->reaper_fd);
    h->reaper_fd = -1;
    waitpid(h->reaper, NULL, 0);
    h->reaper = 0;
}

static int
kafka_start(kfkd_h *h)
{
    char out[4096];
    const char *home[] = {"home", NULL};
    if (run_py(out, sizeof(out), home) != 0) {
        printf("SKIP: Apache Kafka is not installed (scripts/peers.sh kafka "
               "installs it); KFK_TEST_BROKER=kafka tests are skipped\n");
        fflush(stdout);
        exit(KFK_TEST_SKIP);
    }
    const char *args[KFKD_MAX_OVERRIDES + 2];
    int a = 0;
    args[a++] = "start";
    for (int i = 0; i < h->noverrides; i++)
        args[a++] = h->overrides[i];
    args[a] = NULL;
    int64_t t0 = kfk_mono_ms();
    int rc = run_py(out, sizeof(out), args);
    if (rc != 0 || parse_vars(h, out) < 0) {
        fprintf(stderr, "kafka.py start failed (exit %d)\n", rc);
        return -1;
    }
    start_reaper(h);
    fprintf(stderr, "Apache Kafka ready in %lld ms\n",
            (long long)(kfk_mono_ms() - t0));
    return 0;
}

static int
kafka_stop(kfkd_h *h)
{
    if (!h->dir[0]) return -1;
    const char *args[] = {"stop", h->dir, NULL};
    int rc = run_py(NULL, 0, args);
    h->pid = 0;
    return rc;
}

static void
kafka_kill9(kfkd_h *h)
{
    if (!h->dir[0]) return;
    const char *args[] = {"kill9", h->dir, NULL};
    run_py(NULL, 0, args);
    h->pid = 0;
}

static int
kafka_restart(kfkd_h *h)
{
    if (h->pid) kafka_stop(h);
    char out[4096];
    const char *args[] = {"restart", h->dir, NULL};
    int64_t t0 = kfk_mono_ms();
    int rc = run_py(out, sizeof(out), args);
    if (rc != 0 || parse_vars(h, out) < 0) {
        fprintf(stderr, "kafka.py restart failed (exit %d)\n", rc);
        return -1;
    }
    fprintf(stderr, "Apache Kafka restarted in %lld ms\n",
            (long long)(kfk_mono_ms() - t0));
    return 0;
}

static void
kafka_cleanup(kfkd_h *h)
{
    if (h->dir[0]) {
        const char *args[] = {getenv("KFK_TEST_KEEP") ? "stop" : "cleanup",
                              h->dir, NULL};
        run_py(NULL, 0, args);
    }
    stop_reaper(h);
    h->pid = 0;
    for (int i = 0; i < h->noverrides; i++)
        free(h->overrides[i]);
    h->noverrides = 0;
    h->dir[0] = '\0';
}

static void
kafka_dump_log(const kfkd_h *h)
{
    if (!h->dir[0]) return;
    fprintf(stderr, "---- Kafka log (%s) ----\n", h->dir);
    const char *args[] = {"log", h->dir, NULL};
    run_py(NULL, 0, args);
}

/* ------------------------------------------------------------------ */
/* Connections and calls.                                              */

int
kfk_test_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int32_t
kfk_test_next_corr(void)
{
    static _Atomic int32_t corr = 1000; /* tests call from several threads */
    return ++corr;
}

int
kfk_test_send_raw(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

int
kfk_test_send(int fd, int16_t api_key, int16_t version, int32_t correlation_id,
              const void *req)
{
    const kfk_api_desc *ad = kfk_api_get(api_key);
    if (!ad) return -1;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0); /* size, set below */
    kfk_req_header hdr = {api_key, version, correlation_id,
                          kfk_str_c("kfk-test")};
    kfk_req_header_encode(&wb, &hdr);
    kfk_encode(ad->req, version, &wb, req);
    if (wb.err) {
        kfk_buf_free(&wb);
        return -1;
    }
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    int rc = kfk_test_send_raw(fd, wb.p, wb.len);
    kfk_buf_free(&wb);
    return rc;
}

static int
read_full(int fd, uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
kfk_test_recv_frame(int fd, kfk_arena *ar, uint8_t **bufp, size_t *lenp)
{
    uint8_t sz[4];
    if (read_full(fd, sz, 4) < 0) return -1;
    uint32_t n = kfk_be32(sz);
    if (n > (1u << 30)) return -1;
    uint8_t *buf = kfk_arena_alloc(ar, n ? n : 1);
    if (!buf || read_full(fd, buf, n) < 0) return -1;
    *bufp = buf;
    *lenp = n;
    return 0;
}

int
kfk_test_recv(int fd, int16_t api_key, int16_t version, int32_t correlation_id,
              void *resp, kfk_arena *ar)
{
    const kfk_api_desc *ad = kfk_api_get(api_key);
    uint8_t *buf;
    size_t len;
    if (!ad || kfk_test_recv_frame(fd, ar, &buf, &len) < 0) {
        fprintf(stderr, "kfk_test_recv: no response to %s v%d (%s)\n",
                ad ? ad->name : "?", version, strerror(errno));
        return -1;
    }
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, buf, len);
    int32_t corr;
    if (kfk_resp_header_decode(&rb, api_key, version, &corr)) {
        fprintf(stderr, "kfk_test_recv: bad response header\n");
        return -1;
    }
    if (corr != correlation_id) {
        fprintf(stderr, "kfk_test_recv: correlation id %d, expected %d\n", corr,
                correlation_id);
        return -1;
    }
    kfk_err e = kfk_decode(ad->resp, version, &rb, ar, resp);
    if (e) {
        fprintf(stderr, "kfk_test_recv: cannot decode %s v%d: %s\n",
                ad->resp->name, version, kfk_err2name(e));
        return -1;
    }
    if (kfk_rbuf_left(&rb)) {
        fprintf(stderr, "kfk_test_recv: %zu bytes left after %s v%d\n",
                kfk_rbuf_left(&rb), ad->resp->name, version);
        return -1;
    }
    return 0;
}

int
kfk_test_call(int fd, int16_t api_key, int16_t version, const void *req,
              void *resp, kfk_arena *ar)
{
    int32_t corr = kfk_test_next_corr();
    if (kfk_test_send(fd, api_key, version, corr, req) < 0) {
        fprintf(stderr, "kfk_test_call: send failed: %s\n", strerror(errno));
        return -1;
    }
    return kfk_test_recv(fd, api_key, version, corr, resp, ar);
}

bool
kfk_test_closed(int fd, int timeout_ms)
{
    int64_t deadline = kfk_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - kfk_mono_ms());
        if (left <= 0) return false;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, left);
        if (r <= 0) continue;
        uint8_t buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0) return true;
        if (n < 0 && errno != EAGAIN && errno != EINTR) return true; /* reset */
    }
}

/* ------------------------------------------------------------------ */
/* Shortcuts.                                                          */

kfk_uuid
kfk_test_topic_id(int fd, const char *name)
{
    kfk_uuid id = {0};
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest_MetadataRequestTopic t;
    kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, 12, &t);
    t.Name = KS(name);
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, 12, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    req.AllowAutoTopicCreation = false;
    kfk_MetadataResponse r;
    if (kfk_test_call(fd, KFK_API_Metadata, 12, &req, &r, &ar) == 0 &&
        r.Topics_count == 1 && r.Topics[0].ErrorCode == 0)
        id = r.Topics[0].TopicId;
    kfk_arena_free(&ar);
    return id;
}

int
kfk_test_create_topic(int fd, const char *name, int32_t partitions, ...)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_CreateTopicsRequest_CreatableTopicConfig cfg[16];
    int nc = 0;
    va_list ap;
    va_start(ap, partitions);
    const char *k;
    while (nc < 16 && (k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        cfg[nc].Name = kfk_str_c(k);
        cfg[nc].Value = kfk_str_c(v);
        nc++;
    }
    va_end(ap);
    kfk_CreateTopicsRequest_CreatableTopic t;
    kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, 4, &t);
    t.Name = kfk_str_c(name);
    t.NumPartitions = partitions;
    t.ReplicationFactor = -1;
    t.Assignments_count = 0;
    t.Configs = cfg;
    t.Configs_count = nc;
    kfk_CreateTopicsRequest req;
    kfk_msg_init(&kfk_CreateTopicsRequest_msg, 4, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_CreateTopicsResponse resp;
    int rc = -1000;
    if (kfk_test_call(fd, KFK_API_CreateTopics, 4, &req, &resp, &ar) == 0 &&
        resp.Topics_count == 1)
        rc = resp.Topics[0].ErrorCode;
    kfk_arena_free(&ar);
    if (rc == 0 && !kfk_test_wait_served(fd, name, partitions, 10000))
        rc = -1000;
    return rc;
}

/* Whether every partition of name answers a ListOffsets (latest) without
 * an error. */
static bool
served(int fd, const char *name, int32_t partitions)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int32_t n = partitions > 0 ? partitions : 1;
    kfk_ListOffsetsRequest_ListOffsetsPartition *ps =
        kfk_arena_alloc(&ar, sizeof(*ps) * (size_t)n);
    for (int32_t i = 0; i < n; i++) {
        kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc, 1,
                        &ps[i]);
        ps[i].PartitionIndex = i;
        ps[i].Timestamp = -1;
    }
    kfk_ListOffsetsRequest_ListOffsetsTopic t;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsTopic_desc, 1, &t);
    t.Name = KS(name);
    t.Partitions = ps;
    t.Partitions_count = n;
    kfk_ListOffsetsRequest req;
    kfk_msg_init(&kfk_ListOffsetsRequest_msg, 1, &req);
    req.ReplicaId = -1;
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_ListOffsetsResponse r;
    bool ok = kfk_test_call(fd, KFK_API_ListOffsets, 1, &req, &r, &ar) == 0 &&
              r.Topics_count == 1 && r.Topics[0].Partitions_count == n;
    for (int32_t i = 0; ok && i < n; i++)
        ok = r.Topics[0].Partitions[i].ErrorCode == 0;
    kfk_arena_free(&ar);
    return ok;
}

bool
kfk_test_wait_served(int fd, const char *name, int32_t partitions,
                     int timeout_ms)
{
    int64_t t0 = kfk_test_mono_us();
    for (;;) {
        if (served(fd, name, partitions)) return true;
        if (kfk_test_mono_us() - t0 > (int64_t)timeout_ms * 1000) break;
        kfk_test_sleep_ms(50);
    }
    fprintf(stderr, "kfk_test_wait_served: %s is not served after %d ms\n",
            name, timeout_ms);
    return false;
}

static void
build_batch(kfk_buf *out, int codec, int n, const char *prefix, int64_t pid,
            int16_t epoch, int32_t seq)
{
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, out, (kfk_codec)codec, 0);
    bb.producer_id = pid;
    bb.producer_epoch = epoch;
    bb.base_sequence = seq;
    int64_t ts = kfk_now_ms();
    for (int i = 0; i < n; i++) {
        char key[32], val[128];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%s-%d", prefix, i);
        kfk_record_hdr h = {(const uint8_t *)"h", 1, (const uint8_t *)key,
                            (int32_t)strlen(key)};
        kfk_batch_builder_add(&bb, ts + i, key, (int32_t)strlen(key), val,
                              (int32_t)strlen(val), &h, 1);
    }
    kfk_batch_builder_finish(&bb);
}

void
kfk_test_build_batch(kfk_buf *out, int codec, int n, const char *prefix)
{
    build_batch(out, codec, n, prefix, -1, -1, -1);
}

void
kfk_test_build_batch_idem(kfk_buf *out, int n, const char *prefix, int64_t pid,
                          int16_t epoch, int32_t seq)
{
    build_batch(out, KFK_CODEC_NONE, n, prefix, pid, epoch, seq);
}

int
kfk_test_produce(int fd, int16_t version, const char *topic, int32_t partition,
                 int16_t acks, const void *records, size_t len,
                 int64_t *base_offset)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ProduceRequest_PartitionProduceData pd;
    kfk_struct_init(&kfk_ProduceRequest_PartitionProduceData_desc, version,
                    &pd);
    pd.Index = partition;
    pd.Records.p = records;
    pd.Records.len = (int32_t)len;
    kfk_ProduceRequest_TopicProduceData td;
    kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, version, &td);
    td.Name = kfk_str_c(topic);
    td.PartitionData = &pd;
    td.PartitionData_count = 1;
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, version, &req);
    req.Acks = acks;
    req.TimeoutMs = 10000;
    req.TopicData = &td;
    req.TopicData_count = 1;
    int rc = -1000;
    kfk_ProduceResponse resp;
    if (kfk_test_call(fd, KFK_API_Produce, version, &req, &resp, &ar) == 0 &&
        resp.Responses_count == 1 &&
        resp.Responses[0].PartitionResponses_count == 1) {
        rc = resp.Responses[0].PartitionResponses[0].ErrorCode;
        if (base_offset)
            *base_offset = resp.Responses[0].PartitionResponses[0].BaseOffset;
    }
    kfk_arena_free(&ar);
    return rc;
}

int
kfk_test_fetch(int fd, int16_t version, const char *topic, int32_t partition,
               int64_t offset, int32_t max_wait_ms, int32_t min_bytes,
               kfk_arena *ar, kfk_bytes *records, int64_t *hw)
{
    kfk_FetchRequest_FetchPartition fp;
    kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, version, &fp);
    fp.Partition = partition;
    fp.FetchOffset = offset;
    fp.PartitionMaxBytes = 1 << 20;
    fp.CurrentLeaderEpoch = -1;
    fp.LastFetchedEpoch = -1;
    fp.LogStartOffset = -1;
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, version, &ft);
    ft.Topic = kfk_str_c(topic);
    ft.Partitions = &fp;
    ft.Partitions_count = 1;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, version, &req);
    req.ReplicaId = -1;
    req.MaxWaitMs = max_wait_ms;
    req.MinBytes = min_bytes;
    req.MaxBytes = 8 << 20;
    req.IsolationLevel = 0;
    req.SessionId = 0;
    req.SessionEpoch = -1;
    req.Topics = &ft;
    req.Topics_count = 1;
    kfk_FetchResponse resp;
    if (kfk_test_call(fd, KFK_API_Fetch, version, &req, &resp, ar) != 0 ||
        resp.Responses_count != 1 || resp.Responses[0].Partitions_count != 1)
        return -1000;
    kfk_FetchResponse_PartitionData *pd = &resp.Responses[0].Partitions[0];
    if (records) *records = pd->Records;
    if (hw) *hw = pd->HighWatermark;
    return pd->ErrorCode;
}

int
kfk_test_count_records(const uint8_t *p, size_t len, int64_t first_offset,
                       kfk_buf *values)
{
    size_t off = 0;
    int n = 0;
    int64_t expect = first_offset;
    while (off < len) {
        kfk_batch b;
        size_t size;
        kfk_err e = kfk_batch_parse(p + off, len - off, true, &b, &size);
        if (e == KFK_ERR__PARTIAL) break; /* a fetch may end mid-batch */
        if (e) return -1;
        kfk_record_iter it;
        if (kfk_record_iter_init(&it, &b, 64u << 20)) return -1;
        kfk_record r;
        while (kfk_record_iter_next(&it, &r) == 1) {
            if (r.offset < first_offset) /* whole batches: skip the head */
                continue;
            if (r.offset != expect) {
                kfk_record_iter_free(&it);
                return -1;
            }
            expect++;
            n++;
            if (values) {
                if (r.value_len > 0)
                    kfk_buf_put(values, r.value, (size_t)r.value_len);
                kfk_buf_put(values, "", 1);
            }
        }
        bool bad = it.err != KFK_ERR_NONE;
        kfk_record_iter_free(&it);
        if (bad) return -1;
        off += size;
    }
    return n;
}

int64_t
kfk_test_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
kfk_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
