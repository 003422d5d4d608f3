#include "train/resume.hpp"

#include <map>

#include "config/json.hpp"
#include "config/schema.hpp"
#include "train/schedule.hpp"
#include "util/error.hpp"
#include "util/format.hpp"

namespace nabla {

namespace {

// A JSON value as PATH -> text pairs, for comparing two configs key by key.
void flatten(const nlohmann::ordered_json& j, const std::string& path, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], path + "[" + std::to_string(i) + "]", out);
  } else {
    out[path] = j.dump();
  }
}

}  // namespace

Config resumed_config(const std::string& checkpoint, const std::vector<std::string>& overrides) {
  const io::Checkpoint ck = io::load_checkpoint(checkpoint);
  nlohmann::ordered_json j = to_json(ck.config);
  for (const std::string& o : overrides) apply_override(j, o);
  Config c = parse_config(j, checkpoint + " (its config)", ".");
  return c;
}

std::vector<std::string> check_resume(const io::Checkpoint& from, const Config& now, const std::string& path) {
  std::map<std::string, std::string> a, b;
  flatten(to_json(from.config), "", a);
  flatten(to_json(now), "", b);
  std::vector<std::string> allowed, refused;
  auto differs = [&](const std::string& key, const std::string& was, const std::string& is) {
    (may_change_on_resume(key) ? allowed : refused).push_back(key + ": " + was + " -> " + is);
  };
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end())
      differs(key, value, "(absent)");
    else if (it->second != value)
      differs(key, value, it->second);
  }
  for (const auto& [key, value] : b)
    if (!a.count(key)) differs(key, "(absent)", value);
  if (!refused.empty()) {
    std::string list;
    for (const std::string& r : refused) list += (list.empty() ? "" : "; ") + r;
    throw Error(now.path, "",
                "cannot resume " + path + ": the config differs from the checkpoint's in " + list + " (only " +
                    resumable_keys_text() + " may change)");
  }
  if (from.state.epoch >= now.training.epochs)
    throw Error(path, "",
                "is at epoch " + std::to_string(from.state.epoch) + " and training.epochs is " +
                    std::to_string(now.training.epochs) + ": nothing to train (raise it with --epochs)");
  std::vector<std::string> notes;
  for (const std::string& change : allowed) notes.push_back("changed on resume: " + change);
  return notes;
}

void check_resume_fits(const io::Checkpoint& from, int64_t parameters, int64_t steps_per_epoch,
                       const std::string& path) {
  if (int64_t(from.params.size()) != parameters)
    throw Error(path, "",
                "the checkpoint's network has " + std::to_string(from.params.size()) + " parameters, the data " +
                    "makes this config's " + std::to_string(parameters) + " (another input size or class count)");
  const io::RunState& st = from.state;
  if (st.batch > steps_per_epoch || st.step != st.epoch * steps_per_epoch + st.batch ||
      st.epoch_correct > st.epoch_seen)
    throw Error(path, "",
                "its position (epoch " + std::to_string(st.epoch) + ", batch " + std::to_string(st.batch) + ", step " +
                    std::to_string(st.step) + ") does not fit the data's " + std::to_string(steps_per_epoch) +
                    " batches an epoch (were the data files changed?)");
}

std::string cosine_note(const io::Checkpoint& from, const Config& now, int64_t steps_per_epoch) {
  const int64_t was_epochs = from.config.training.epochs, step = from.state.step;
  if (now.schedule.type != ScheduleKind::cosine || was_epochs == now.training.epochs) return "";
  const double base = now.optimizer.learning_rate;
  const double was = learning_rate(now.schedule, base, step, steps_per_epoch, was_epochs);
  const double is = learning_rate(now.schedule, base, step, steps_per_epoch, now.training.epochs);
  return "the cosine schedule now spans " + std::to_string(now.training.epochs) +
         " epochs: the learning rate at step " + std::to_string(step + 1) + " is " + printf_string("%.4g", is) + " (" +
         printf_string("%.4g", was) + " over " + std::to_string(was_epochs) + ")";
}

}  // namespace nabla
