/* The complete engine registry: the engine stage's built-in classes, then the classes of
 * the fit stage.  Commands (`xbar mvm`, `xbar run`) and executors choose from this table;
 * a new fit-stage engine is one line here (docs/architecture.md). */
#include <stddef.h>

#include "xbar/fit.h"

const xb_engine_class *const xb_fit_engines[] = {
    XB_ENGINE_BUILTINS(XB_ENGINE_CLASS_REF)
    &xb_fit_engine_class_model,
    NULL,
};
