// metrics.jsonl writing and re-reading, and the SVG loss plot.
#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "base/error.h"
#include "io/atomic_write.h"
#include "io/json.h"

namespace kiln {
namespace fs = std::filesystem;

std::string to_json(const MetricEvent& event) {
  json::Writer out = json::Writer::compact();
  out.begin_object().key("kind").string(event.kind).key("step").integer(event.step);
  for (const auto& [key, value] : event.values) {
    out.key(key);
    if (std::isfinite(value))
      out.number(value);
    else
      out.null();
  }
  return out.end_object().text();
}

bool parse_metric_line(const std::string& line, MetricEvent& event) {
  event = MetricEvent{};
  json::Value object;
  try {
    object = json::parse(line, "metrics.jsonl");
  } catch (const Error&) {
    return false;
  }
  if (object.kind() != json::Value::Kind::kObject) return false;
  const json::Value* kind = object.find("kind");
  const json::Value* step = object.find("step");
  if (kind == nullptr || kind->kind() != json::Value::Kind::kString || step == nullptr ||
      !step->is_integer())
    return false;
  event.kind = kind->as_string();
  event.step = step->as_int();
  for (const auto& [key, value] : object.as_object()) {
    if (key == "kind" || key == "step") continue;
    if (value.is_null())
      event.values.emplace_back(key, NAN);
    else if (value.kind() == json::Value::Kind::kNumber)
      event.values.emplace_back(key, value.as_number());
    else
      return false;
  }
  return true;
}

MetricsLog::MetricsLog(const std::string& dir, int64_t resume_step)
    : dir_(dir), path_((fs::path(dir) / "metrics.jsonl").string()) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  KILN_CHECK(!ec, dir, ": expected to create the run folder, got ", ec.message());
  {
    std::ifstream in(path_);
    std::string line;
    MetricEvent event;
    while (std::getline(in, line))
      if (parse_metric_line(line, event) && event.step <= resume_step) history_.push_back(event);
  }
  // Rewrite what is kept, so steps after the checkpoint are not listed twice; atomically, so a
  // crash here cannot lose the earlier lines.
  std::string kept;
  for (const MetricEvent& e : history_) kept += to_json(e) + "\n";
  io::atomic_write(path_, kept);
}

void MetricsLog::add(const MetricEvent& event) {
  history_.push_back(event);
  io::append_file(path_, to_json(event) + "\n");
}

void MetricsLog::write_plot() const {
  // Series "train loss", "eval val_loss", ...: every value whose key ends in "loss".
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const MetricEvent& e : history_)
    for (const auto& [key, value] : e.values)
      if (key.size() >= 4 && key.compare(key.size() - 4, 4, "loss") == 0 && std::isfinite(value))
        series[(e.kind == "train" ? "train " : "") + key].emplace_back(double(e.step), value);
  double x_max = 1, y_min = INFINITY, y_max = -INFINITY;
  for (const auto& [name, points] : series)
    for (auto [x, y] : points)
      x_max = std::max(x_max, x), y_min = std::min(y_min, y), y_max = std::max(y_max, y);
  if (!std::isfinite(y_min)) y_min = 0, y_max = 1;
  if (y_max - y_min < 1e-6) y_max = y_min + 1;

  const double width = 720, height = 420, left = 60, right = 20, top = 30, bottom = 45;
  auto px = [&](double x) { return left + x / x_max * (width - left - right); };
  auto py = [&](double y) { return top + (y_max - y) / (y_max - y_min) * (height - top - bottom); };
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
         "fill='white'/>\n";
  svg << "<line x1='" << left << "' y1='" << height - bottom << "' x2='" << width - right
      << "' y2='" << height - bottom << "' stroke='black'/>\n<line x1='" << left << "' y1='" << top
      << "' x2='" << left << "' y2='" << height - bottom << "' stroke='black'/>\n";
  for (int i = 0; i <= 4; ++i) {
    double y = y_min + (y_max - y_min) * i / 4, x = x_max * i / 4;
    svg << "<text x='" << left - 6 << "' y='" << py(y) + 4 << "' text-anchor='end'>"
        << std::setprecision(3) << y << "</text>\n<text x='" << px(x) << "' y='"
        << height - bottom + 16 << "' text-anchor='middle'>" << static_cast<int64_t>(x)
        << "</text>\n";
  }
  svg << "<text x='" << (left + width - right) / 2 << "' y='" << height - 8
      << "' text-anchor='middle'>step</text>\n";
  int index = 0;
  for (const auto& [name, points] : series) {
    const char* color = colors[index % 6];
    svg << "<polyline fill='none' stroke='" << color << "' stroke-width='1.5' points='";
    for (auto [x, y] : points) svg << px(x) << "," << py(y) << " ";
    svg << "'/>\n<text x='" << width - right - 140 << "' y='" << top + 14 * index << "' fill='"
        << color << "'>" << name << "</text>\n";
    ++index;
  }
  svg << "</svg>\n";
  io::atomic_write((fs::path(dir_) / "loss.svg").string(), svg.str());
}

}  // namespace kiln
