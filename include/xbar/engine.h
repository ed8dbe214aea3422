/*
 * xbar engine stage: runs netlists through libngspice in-process.
 * (The full API arrives with the engine issue; see docs/architecture.md.)
 */
#ifndef XBAR_ENGINE_H
#define XBAR_ENGINE_H

#include "xbar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialise libngspice in THIS process and read back the version line it prints
 * ("ngspice-39.3 ..."), e.g. for `xbar --version`.  libngspice keeps global state:
 * call it only in a process that will not run simulations itself, or a worker. */
int xb_engine_ngspice_version_inprocess(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_ENGINE_H */
