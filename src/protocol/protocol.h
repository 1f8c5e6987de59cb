/*
 * protocol.h -- the private umbrella header of src/protocol, the sans-I/O
 * Kafka protocol layer: message codec and generated message types, record
 * batches (v2 and the legacy message sets), compression.  Nothing in this
 * directory opens a socket, starts a thread or reads a clock.
 */
#ifndef KFK_PROTOCOL_H
#define KFK_PROTOCOL_H

#include "common/common.h"
#include "protocol/codec.h"
#include "protocol/gen/messages.h"

#endif
