/*
 * version.c -- run-time version of libkfk.
 */
#include "kfk/version.h"

const char *
kfk_version(void)
{
    return KFK_VERSION_STR;
}
