#include "lcsim/calibrate/synth.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/engine/engine.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

constexpr const char* kOptionsFile = "<synth options>";
constexpr std::int64_t kSecondsPerDay = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t round_to_second(double days) {
  return static_cast<std::int64_t>(std::llround(days * static_cast<double>(kSecondsPerDay)));
}

/// One simulated customer: its key, segment and every stage change (rounded to the second).
struct Customer {
  std::uint64_t key = 0;
  double first_time = 0.0;  ///< unrounded time of the first appearance
  int segment = 0;
  std::vector<std::pair<std::int64_t, int>> changes;  ///< (second, stage entered), in time order
  std::size_t number = 0;  ///< 1-based id number; 0 when it never appears
};

std::vector<Customer> customers_of(const ReplicationResult& result,
                                   const CustomerOutcomes& outcomes) {
  std::unordered_map<std::uint64_t, int> segment_of;
  segment_of.reserve(outcomes.customer.size());
  for (std::size_t i = 0; i < outcomes.customer.size(); ++i) {
    segment_of.emplace(outcomes.customer[i], outcomes.segment[i]);
  }
  // Events of one customer come in time order; customers interleave only around shared
  // resources, so a stable sort by (customer, time) groups them and keeps ties in log order.
  std::vector<std::size_t> order(result.events.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Event& x = result.events[a];
    const Event& y = result.events[b];
    const auto kx = static_cast<std::uint64_t>(x.customer);
    const auto ky = static_cast<std::uint64_t>(y.customer);
    return kx != ky ? kx < ky : x.time < y.time;
  });
  std::vector<Customer> customers;
  for (const std::size_t i : order) {
    const Event& e = result.events[i];
    const auto key = static_cast<std::uint64_t>(e.customer);
    if (customers.empty() || customers.back().key != key) {
      Customer c;
      c.key = key;
      c.first_time = e.time;
      const auto it = segment_of.find(key);
      c.segment = it == segment_of.end() ? 0 : it->second;
      customers.push_back(std::move(c));
    }
    customers.back().changes.emplace_back(round_to_second(e.time), e.to);
  }
  // Ids by first appearance, then key: stable for (scenario, seed, replication).
  std::sort(customers.begin(), customers.end(), [](const Customer& a, const Customer& b) {
    return a.first_time != b.first_time ? a.first_time < b.first_time : a.key < b.key;
  });
  return customers;
}

std::string customer_id(std::size_t number, int width) {
  std::string digits = std::to_string(number);
  if (static_cast<int>(digits.size()) < width) {
    digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  }
  return "C" + digits;
}

/// Snapshot dates as day offsets from day 0, up to `last_day` (inclusive).
std::vector<std::int64_t> snapshot_days(const SnapshotEvery& every, std::int64_t start_day,
                                        const std::string& start_date, std::int64_t last_day) {
  std::vector<std::int64_t> days;
  if (every.kind == SnapshotEvery::Kind::kDays) {
    for (std::int64_t k = 0; k <= last_day; k += every.days) days.push_back(k);
  } else if (every.kind == SnapshotEvery::Kind::kMonthly) {
    const int year = std::stoi(start_date.substr(0, 4));
    const int month = std::stoi(start_date.substr(5, 2));
    const int day = std::stoi(start_date.substr(8, 2));
    for (int m = 0;; ++m) {
      const int months = (month - 1) + m;
      const std::int64_t y = year + months / 12;
      const int mo = months % 12 + 1;
      const std::int64_t first = days_from_civil(y, mo, 1);
      const std::int64_t next_first =
          mo == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, mo + 1, 1);
      const auto length = static_cast<int>(next_first - first);
      const std::int64_t k = days_from_civil(y, mo, std::min(day, length)) - start_day;
      if (k > last_day) break;
      days.push_back(k);
    }
  }
  return days;
}

void check_options(const Model& model, const SynthOptions& o) {
  std::vector<Problem> problems;
  const auto bad = [&](const char* field, const std::string& message) {
    problems.push_back(Problem{kOptionsFile, 0, field, message, false});
  };
  if (o.replication < 0) {
    bad("replication", expected_got("an integer >= 0", std::to_string(o.replication)));
  }
  if (!parse_date(o.start_date)) bad("start_date", expected_got("a date YYYY-MM-DD", o.start_date));
  if (o.observe_until) {
    const double u = *o.observe_until;
    if (!std::isfinite(u) || u <= 0.0 || u > model.horizon) {
      bad("observe_until",
          expected_got("days in (0, " + calibrate_text::number(model.horizon) + "] (the horizon)",
                       calibrate_text::number(u)));
    }
  }
  if (o.snapshot_every.kind == SnapshotEvery::Kind::kDays && o.snapshot_every.days < 1) {
    bad("every",
        expected_got("a whole number of days >= 1", std::to_string(o.snapshot_every.days)));
  }
  if (!problems.empty()) throw InputError(std::move(problems));
}

std::string errno_text(int err) { return std::strerror(err); }

/// Appends one CSV record.
void append_record(std::string& out, std::initializer_list<std::string_view> fields) {
  bool first = true;
  for (const std::string_view f : fields) {
    if (!first) out += ',';
    first = false;
    out += csv_field(f);
  }
  out += '\n';
}

}  // namespace

SnapshotEvery SnapshotEvery::parse(std::string_view text) {
  const std::string t = calibrate_text::trim(text);
  if (t == "none") return {};
  if (t == "monthly") return SnapshotEvery{Kind::kMonthly, 0};
  int days = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), days);
  if (ec != std::errc() || end != t.data() + t.size() || days < 1) {
    throw InputError(kOptionsFile, 0, "every",
                     expected_got("monthly, none or a whole number of days >= 1", t));
  }
  return SnapshotEvery{Kind::kDays, days};
}

std::string SynthHistory::first_timestamp() const {
  return events.empty() ? "" : events.front().timestamp;
}
std::string SynthHistory::last_timestamp() const {
  return events.empty() ? "" : events.back().timestamp;
}

std::string iso_timestamp(std::int64_t start_day, std::int64_t second) {
  const std::int64_t day = floor_div(second, kSecondsPerDay);
  const std::int64_t sod = second - day * kSecondsPerDay;
  char clock[16];
  std::snprintf(clock, sizeof clock, "T%02d:%02d:%02dZ", static_cast<int>(sod / 3600),
                static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
  return civil_date(start_day + day) + clock;
}

SynthHistory synthesize(const Model& model, const SynthOptions& o) {
  check_options(model, o);
  SynthHistory h;
  h.scenario = model.name;
  h.replication = o.replication;
  h.seed = o.seed.value_or(model.seed);
  h.start_date = o.start_date;
  h.start_day = *parse_date(o.start_date);
  h.observe_until = o.observe_until.value_or(model.horizon);
  h.with_segments = o.with_segments.value_or(model.num_segments() > 1);
  for (int s = 0; s < model.num_stages(); ++s) {
    if (model.absorbing[static_cast<std::size_t>(s)] != 0U)
      h.absorbing.push_back(model.stage_names[static_cast<std::size_t>(s)]);
  }
  h.won = model.stage_names[static_cast<std::size_t>(model.won)];
  const std::int64_t until = round_to_second(h.observe_until);
  h.censor_at = iso_timestamp(h.start_day, until);

  CustomerOutcomes outcomes;
  SimulationControl control;
  control.events = true;
  control.contacts = o.with_touchpoints && model.num_touchpoints() > 0;
  control.outcomes = &outcomes;
  control.has_seed = true;
  control.seed_override = h.seed;
  const ReplicationResult result = Engine(model).simulate(o.replication, control);

  std::vector<Customer> customers = customers_of(result, outcomes);
  std::size_t observed = 0;
  for (Customer& c : customers) {
    if (c.changes.front().first <= until) {
      c.number = ++observed;
    } else {
      ++h.customers_unobserved;
    }
  }
  h.customers = observed;
  const int width = std::max<int>(6, static_cast<int>(std::to_string(observed).size()));
  std::vector<std::string> ids(customers.size());
  for (std::size_t i = 0; i < customers.size(); ++i) {
    if (customers[i].number > 0) ids[i] = customer_id(customers[i].number, width);
  }
  const auto& stage_name = [&](int s) -> const std::string& {
    return model.stage_names[static_cast<std::size_t>(s)];
  };
  const std::string no_segment;
  const auto& segment_name = [&](const Customer& c) -> const std::string& {
    return h.with_segments ? model.segment_names[static_cast<std::size_t>(c.segment)] : no_segment;
  };

  // ---- events: by time, then customer, then the customer's own order -------------------------
  struct Ref {
    std::int64_t second;
    std::size_t customer;  // index into customers (ids follow the same order)
    std::size_t seq;
  };
  std::vector<Ref> refs;
  for (std::size_t i = 0; i < customers.size(); ++i) {
    const Customer& c = customers[i];
    int last_stage = -1;
    for (std::size_t j = 0; j < c.changes.size(); ++j) {
      if (c.changes[j].first > until) {
        ++h.events_unobserved;
        continue;
      }
      refs.push_back(Ref{c.changes[j].first, i, j});
      last_stage = c.changes[j].second;
    }
    if (last_stage >= 0 && model.absorbing[static_cast<std::size_t>(last_stage)] == 0U)
      ++h.customers_open;
  }
  const auto by_time = [](const Ref& a, const Ref& b) {
    if (a.second != b.second) return a.second < b.second;
    if (a.customer != b.customer) return a.customer < b.customer;
    return a.seq < b.seq;
  };
  std::sort(refs.begin(), refs.end(), by_time);
  h.events.reserve(refs.size());
  for (const Ref& r : refs) {
    const Customer& c = customers[r.customer];
    h.events.push_back(SynthEventRow{ids[r.customer], iso_timestamp(h.start_day, r.second),
                                     stage_name(c.changes[r.seq].second), segment_name(c),
                                     r.second});
  }

  // ---- snapshots: every customer seen by each date's midnight, at its stage then ----------------
  const std::vector<std::int64_t> days =
      snapshot_days(o.snapshot_every, h.start_day, h.start_date, floor_div(until, kSecondsPerDay));
  std::vector<std::size_t> cursor(customers.size(), 0);  // changes at or before the current date
  for (const std::int64_t k : days) {
    const std::string date = civil_date(h.start_day + k);
    h.snapshot_dates.push_back(date);
    const std::int64_t at = k * kSecondsPerDay;
    for (std::size_t i = 0; i < customers.size(); ++i) {
      const Customer& c = customers[i];
      if (c.number == 0) continue;
      std::size_t& n = cursor[i];
      while (n < c.changes.size() && c.changes[n].first <= at) ++n;
      if (n == 0) continue;  // not arrived yet
      h.snapshots.push_back(SynthSnapshotRow{ids[i], date, stage_name(c.changes[n - 1].second),
                                             segment_name(c), k,
                                             iso_timestamp(h.start_day, c.changes.front().first)});
    }
  }

  // ---- touchpoint contacts
  // ------------------------------------------------------------------------
  if (control.contacts) {
    std::unordered_map<std::uint64_t, std::size_t> index_of;
    index_of.reserve(customers.size());
    for (std::size_t i = 0; i < customers.size(); ++i) index_of.emplace(customers[i].key, i);
    std::vector<Ref> contacts;
    for (std::size_t j = 0; j < result.contacts.size(); ++j) {
      const Contact& ct = result.contacts[j];
      const std::int64_t second = round_to_second(ct.time);
      const auto it = index_of.find(static_cast<std::uint64_t>(ct.customer));
      if (second > until || it == index_of.end() || customers[it->second].number == 0) continue;
      contacts.push_back(Ref{second, it->second, j});
    }
    std::sort(contacts.begin(), contacts.end(), by_time);
    h.touchpoints.reserve(contacts.size());
    for (const Ref& r : contacts) {
      const Contact& ct = result.contacts[r.seq];
      h.touchpoints.push_back(
          SynthTouchpointRow{ids[r.customer], iso_timestamp(h.start_day, r.second),
                             model.touchpoint_names[static_cast<std::size_t>(ct.touchpoint)],
                             stage_name(ct.stage), r.second});
    }
  }
  return h;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

void write_events_csv(const SynthHistory& h, const std::string& path) {
  std::string out;
  out.reserve(h.events.size() * 48 + 64);
  if (h.with_segments) {
    append_record(out, {"customer_id", "timestamp", "stage", "segment"});
    for (const auto& r : h.events)
      append_record(out, {r.customer_id, r.timestamp, r.stage, r.segment});
  } else {
    append_record(out, {"customer_id", "timestamp", "stage"});
    for (const auto& r : h.events) append_record(out, {r.customer_id, r.timestamp, r.stage});
  }
  write_file_atomically(path, out);
}

void write_snapshots_csv(const SynthHistory& h, const std::string& path) {
  std::string out;
  out.reserve(h.snapshots.size() * 36 + 64);
  if (h.with_segments) {
    append_record(out, {"customer_id", "date", "stage", "segment", "created"});
    for (const auto& r : h.snapshots)
      append_record(out, {r.customer_id, r.taken_at(), r.stage, r.segment, r.created});
  } else {
    append_record(out, {"customer_id", "date", "stage", "created"});
    for (const auto& r : h.snapshots)
      append_record(out, {r.customer_id, r.taken_at(), r.stage, r.created});
  }
  write_file_atomically(path, out);
}

void write_touchpoints_csv(const SynthHistory& h, const std::string& path) {
  std::string out;
  out.reserve(h.touchpoints.size() * 48 + 64);
  append_record(out, {"customer_id", "timestamp", "touchpoint"});
  for (const auto& r : h.touchpoints)
    append_record(out, {r.customer_id, r.timestamp, r.touchpoint});
  write_file_atomically(path, out);
}

void write_file_atomically(const std::string& path, std::string_view text) {
  namespace fs = std::filesystem;
  std::random_device device;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp-%d-%08x", static_cast<int>(::getpid()), device());
  const std::string temp = path + suffix;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw IoError(path + ": cannot create " + temp + ": " + errno_text(errno));
  const auto fail = [&](const std::string& what, int err) {
    ::close(fd);
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw IoError(path + ": " + what + " " + temp + ": " + errno_text(err));
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot flush", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw IoError(path + ": cannot close " + temp + ": " + errno_text(err));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw IoError(path + ": cannot rename " + temp + " over it: " + errno_text(err));
  }
}

}  // namespace lcsim
