#include "lcsim/engine/replication_result.hpp"

namespace lcsim {

const std::vector<std::string>& resource_metric_names() {
  static const std::vector<std::string> names = {
      "joined",   "served",          "abandoned",  "waited",      "wait_mean",
      "wait_p95", "queue_time_mean", "queue_mean", "utilisation", "staff_cost"};
  return names;
}

std::vector<std::string> cause_names(const std::vector<std::string>& touchpoint_names,
                                     const std::vector<std::string>& resource_names,
                                     const std::vector<std::string>& referral_names) {
  std::vector<std::string> names = {"exit", "arrival"};
  for (const auto& t : touchpoint_names) names.push_back("touchpoint:" + t);
  for (const auto& r : resource_names) names.push_back("service:" + r);
  for (const auto& r : resource_names) names.push_back("abandon:" + r);
  for (const auto& j : referral_names) names.push_back("referral:" + j);
  return names;
}

std::vector<std::string> metric_names(const std::vector<std::string>& stage_names,
                                      const std::vector<std::string>& resource_names) {
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
                                    "transitions",
                                    "referrals"};
  for (const auto& s : stage_names) names.push_back("dropoff." + s);
  for (const auto& r : resource_names) {
    for (const auto& m : resource_metric_names()) names.push_back("resource." + r + "." + m);
  }
  return names;
}

}  // namespace lcsim
