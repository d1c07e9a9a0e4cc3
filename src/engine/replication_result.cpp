#include "lcsim/engine/replication_result.hpp"

namespace lcsim {

std::vector<std::string> metric_names(const std::vector<std::string>& stage_names) {
  std::vector<std::string> names = {"customers",
                                    "conversions",
                                    "conversion_rate",
                                    "time_to_convert_mean",
                                    "time_to_convert_median",
                                    "revenue",
                                    "touchpoint_cost",
                                    "discounted_revenue",
                                    "discounted_cost",
                                    "net_value",
                                    "value_per_conversion",
                                    "cost_per_conversion",
                                    "transitions"};
  for (const auto& s : stage_names) names.push_back("dropoff." + s);
  return names;
}

}  // namespace lcsim
