/*
 * version.h -- libkfk's version, at compile time and at run time.
 */
#ifndef KFK_VERSION_H
#define KFK_VERSION_H

#include "kfk/err.h"

#define KFK_VERSION_MAJOR 0
#define KFK_VERSION_MINOR 1
#define KFK_VERSION_PATCH 0
#define KFK_VERSION_STR   "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The version of the libkfk the program runs with, "0.1.0". */
KFK_API const char *kfk_version(void);

#ifdef __cplusplus
}
#endif
#endif
