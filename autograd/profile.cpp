// The profile's store: a map from (section, name) to totals, on the thread that runs the
// step (ops, GEMMs and the optimizer are all issued from it; their OpenMP workers are not
// timed separately).
#include "autograd/profile.h"

#include <algorithm>
#include <map>
#include <utility>

namespace kiln::profile {
namespace {

using Clock = std::chrono::steady_clock;

struct Store {
  bool on = false;
  std::map<std::pair<std::string, std::string>, Entry> entries;
  std::vector<std::string> section_order;
  Clock::time_point mark = Clock::now();
};

Store& store() {
  static Store s;
  return s;
}

}  // namespace

void enable(bool on) {
  Store& s = store();
  s.on = on;
  if (on) {
    s.entries.clear();
    s.section_order.clear();
    s.mark = Clock::now();
  }
}

bool enabled() {
  return store().on;
}

void add(const char* section, const std::string& name, double seconds, double flops) {
  Store& s = store();
  if (!s.on) return;
  auto [it, added] = s.entries.try_emplace({section, name});
  if (added) {
    it->second.section = section;
    it->second.name = name;
    if (std::find(s.section_order.begin(), s.section_order.end(), section) == s.section_order.end())
      s.section_order.emplace_back(section);
  }
  it->second.seconds += seconds;
  it->second.calls += 1;
  it->second.flops += flops;
}

void mark() {
  store().mark = Clock::now();
}

double seconds_since_mark() {
  Store& s = store();
  const Clock::time_point now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - s.mark).count();
  s.mark = now;
  return seconds;
}

Scope::Scope(const char* section, const char* name)
    : section_(section), name_(name), start_(enabled() ? Clock::now() : Clock::time_point{}) {}

Scope::~Scope() {
  if (!enabled()) return;
  add(section_, name_, std::chrono::duration<double>(Clock::now() - start_).count());
  mark();  // the next op's forward starts here
}

std::vector<Entry> entries() {
  const Store& s = store();
  std::vector<Entry> out;
  for (const std::string& section : s.section_order) {
    const std::size_t first = out.size();
    for (const auto& [key, entry] : s.entries)
      if (key.first == section) out.push_back(entry);
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
              [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
  }
  return out;
}

}  // namespace kiln::profile
