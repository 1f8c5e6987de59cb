/*
 * use_kfk.c -- a program built against an installed libkfk by
 * install_test.sh (once through pkg-config, once through find_package):
 * it includes the umbrella header, installs an allocator that counts, and
 * builds and reads back a configuration; a writer with no bootstrap list
 * must be refused (which also makes a static link pull in the writer and
 * the compression libraries it needs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kfk/kfk.h>

static long nalloc;

static void *
count_malloc(size_t n)
{
    nalloc++;
    return malloc(n);
}

int
main(void)
{
    kfk_set_allocators(count_malloc, NULL, NULL, NULL);
    kfk_conf *c = kfk_conf_new();
    char es[128], v[64];
    size_t vs = sizeof(v);
    if (!c || kfk_conf_set(c, "client.id", "installed", es, sizeof(es)) ||
        kfk_conf_get(c, "client.id", v, &vs) || strcmp(v, "installed")) {
        fprintf(stderr, "libkfk configuration failed\n");
        return 1;
    }
    kfk_writer *kw = NULL;
    if (kfk_writer_new(c, &kw, es, sizeof(es)) != KFK_ERR__INVALID_ARG) {
        fprintf(stderr, "a writer without bootstrap.servers was accepted\n");
        return 1;
    }
    kfk_conf_destroy(c);
    if (nalloc == 0) {
        fprintf(stderr, "the allocator hook saw no allocation\n");
        return 1;
    }
    printf("libkfk %s: ok (%s, %ld allocations through the hook)\n",
           kfk_version(), kfk_err2name(KFK_ERR__NOMEM), nalloc);
    return 0;
}
