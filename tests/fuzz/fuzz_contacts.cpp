// libFuzzer harness: a contact log (CSV: customer, timestamp, touchpoint) -> parse_touchpoint_log
// against a fixed small stage-change log (the contacts front door of `lcsim calibrate --contacts`
// and lcsim.calibrate). The last byte picks the options (lcsim_fuzz::split_options).
// See docs/hardening.md.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_common.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/touchpoint_lift.hpp"

namespace {

const lcsim::EventLog& events() {
  static const lcsim::EventLog log = [] {
    // The first 15 customers of `lcsim synth` of a small scenario (corpus/contacts/synth.csv are
    // their contacts).
    std::istringstream in(R"csv(customer_id,timestamp,stage,segment
C000001,2025-01-06T00:00:00Z,lead,smb
C000002,2025-01-06T00:00:00Z,lead,icp
C000003,2025-01-06T00:00:00Z,lead,smb
C000004,2025-01-06T00:00:00Z,lead,smb
C000005,2025-01-06T00:00:00Z,lead,smb
C000006,2025-01-06T00:00:00Z,lead,smb
C000007,2025-01-06T00:00:00Z,lead,icp
C000008,2025-01-06T00:00:00Z,lead,smb
C000009,2025-01-06T00:00:00Z,lead,smb
C000010,2025-01-06T00:00:00Z,lead,icp
C000011,2025-01-06T00:00:00Z,lead,icp
C000012,2025-01-06T00:00:00Z,lead,smb
C000006,2025-01-06T08:16:20Z,mql,smb
C000003,2025-01-07T12:02:12Z,mql,smb
C000011,2025-01-07T18:04:57Z,mql,icp
C000009,2025-01-08T06:39:41Z,mql,smb
C000004,2025-01-08T17:38:03Z,lost,smb
C000002,2025-01-08T19:43:07Z,lost,icp
C000003,2025-01-08T21:04:07Z,sql,smb
C000006,2025-01-08T22:33:22Z,sql,smb
C000001,2025-01-08T23:36:45Z,mql,smb
C000005,2025-01-09T15:14:58Z,lost,smb
C000012,2025-01-10T18:43:14Z,mql,smb
C000008,2025-01-12T09:14:20Z,mql,smb
C000001,2025-01-12T15:07:36Z,lost,smb
C000011,2025-01-14T05:09:21Z,lost,icp
C000003,2025-01-14T16:59:44Z,lost,smb
C000006,2025-01-15T05:32:42Z,lost,smb
C000007,2025-01-15T21:43:54Z,lost,icp
C000010,2025-01-16T07:50:00Z,mql,icp
C000013,2025-01-20T03:13:21Z,lead,smb
C000013,2025-01-21T15:46:17Z,mql,smb
C000010,2025-01-21T18:06:38Z,sql,icp
C000014,2025-01-24T04:01:09Z,lead,smb
C000009,2025-01-24T15:36:21Z,lost,smb
C000015,2025-01-24T20:23:30Z,lead,smb
C000008,2025-01-26T07:03:10Z,sql,smb
C000015,2025-01-26T15:23:55Z,lost,smb
C000008,2025-01-28T09:44:26Z,lost,smb
C000012,2025-01-31T07:21:06Z,lost,smb
C000010,2025-01-31T14:40:16Z,won,icp
C000014,2025-01-31T21:27:17Z,mql,smb
C000013,2025-02-08T13:17:42Z,lost,smb
C000014,2025-02-15T06:59:25Z,lost,smb
)csv");
    lcsim::LogOptions options;
    options.absorbing = {"won", "lost"};
    options.segment_column = "segment";
    return lcsim::parse_event_log(in, "events.csv", options);
  }();
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lcsim_fuzz::Split input = lcsim_fuzz::split_options(data, size);
  const std::string& text = input.text;
  const unsigned flags = input.flags;
  lcsim::TouchpointLogOptions options;
  if (flags & 1) options.touchpoints = {"webinar", "email", "call"};
  const std::string file = "contacts.csv";
  const lcsim::EventLog& log = events();
  lcsim_fuzz::guarded(file, [&] {
    std::istringstream in(text);
    const lcsim::TouchpointLog contacts = lcsim::parse_touchpoint_log(in, file, log, options);
    if (flags & 2) {
      lcsim::LiftOptions lift;
      lift.stage = (flags & 4) ? "sql" : "lead";
      lift.window = (flags & 8) ? 1e-9 : 3.0;
      if (flags & 16) lift.exposure = lcsim::LiftExposure::kWholeStay;
      if (!contacts.touchpoints.empty()) lift.touchpoint = contacts.touchpoints.front();
      (void)lcsim::fit_touchpoint_lift(log, contacts, lift);
    }
  });
  return 0;
}
