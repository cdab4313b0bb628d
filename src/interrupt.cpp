// R's user-interrupt check, run inside R_ToplevelExec: when Ctrl-C is
// pending, R_CheckUserInterrupt jumps to the top-level context set up here
// (not across the engine's C++ frames) and R_ToplevelExec returns FALSE.
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Utils.h>

#include "interrupt.h"

namespace glamm {

namespace {
void check_interrupt(void*) { R_CheckUserInterrupt(); }
}  // namespace

bool r_interrupt_pending() { return R_ToplevelExec(check_interrupt, nullptr) == FALSE; }

}  // namespace glamm
