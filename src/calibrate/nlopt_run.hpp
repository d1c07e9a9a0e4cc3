// Private to lcsim_calibrate: running an NLopt optimisation the way every fit here does.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <nlopt.hpp>

namespace lcsim::calibrate_nlopt {

/// opt.optimize(x, value) with NLopt's early stops as results instead of exceptions: x holds the
/// best point NLopt reached (roundoff-limited: as good as double precision allows; a generic
/// failure: the best so far, which the caller judges by its own gradient or likelihood).
inline nlopt::result optimize(nlopt::opt& opt, std::vector<double>& x, double& value) {
  try {
    return opt.optimize(x, value);
  } catch (const nlopt::roundoff_limited&) {
    return nlopt::ROUNDOFF_LIMITED;
  } catch (const nlopt::forced_stop&) {
    return nlopt::FORCED_STOP;
  } catch (const std::runtime_error&) {
    return nlopt::FAILURE;
  }
}

/// "FTOL_REACHED", "ROUNDOFF_LIMITED", ...
inline std::string result_name(nlopt::result r) {
  switch (r) {
    case nlopt::FAILURE:
      return "FAILURE";
    case nlopt::INVALID_ARGS:
      return "INVALID_ARGS";
    case nlopt::OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case nlopt::ROUNDOFF_LIMITED:
      return "ROUNDOFF_LIMITED";
    case nlopt::FORCED_STOP:
      return "FORCED_STOP";
    case nlopt::SUCCESS:
      return "SUCCESS";
    case nlopt::STOPVAL_REACHED:
      return "STOPVAL_REACHED";
    case nlopt::FTOL_REACHED:
      return "FTOL_REACHED";
    case nlopt::XTOL_REACHED:
      return "XTOL_REACHED";
    case nlopt::MAXEVAL_REACHED:
      return "MAXEVAL_REACHED";
    case nlopt::MAXTIME_REACHED:
      return "MAXTIME_REACHED";
    default:
      return "UNKNOWN";
  }
}

/// A stop at a (local) optimum: a tolerance reached, or roundoff-limited there.
inline bool converged(nlopt::result r) {
  return r == nlopt::SUCCESS || r == nlopt::FTOL_REACHED || r == nlopt::XTOL_REACHED ||
         r == nlopt::STOPVAL_REACHED || r == nlopt::ROUNDOFF_LIMITED;
}

}  // namespace lcsim::calibrate_nlopt
