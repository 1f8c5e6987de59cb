/*
 * kfk.h -- the umbrella header of libkfk, the kfk client library.
 */
#ifndef KFK_KFK_H
#define KFK_KFK_H

#include "kfk/err.h"
#include "kfk/alloc.h"
#include "kfk/version.h"
#include "kfk/conn.h"
#include "kfk/balancer.h"
#include "kfk/conf.h"
#include "kfk/writer.h"
#include "kfk/admin.h"
#include "kfk/reader.h"
#include "kfk/merge.h"
#include "kfk/parallel.h"

#endif
