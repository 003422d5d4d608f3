#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/eval_report.hpp"
#include "cli/inspect_report.hpp"
#include "cli/predict_report.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "io/export.hpp"
#include "report/chart.hpp"
#include "train/evaluate.hpp"
#include "train/predict.hpp"
#include "util/error.hpp"

namespace nabla::cli {

namespace {

struct EvalFlags {
  std::string checkpoint;
  std::string images, labels, csv;
  bool csv_header = false, json = false;
  int64_t top = 5;
  std::string confusion;           // an SVG file to draw the confusion matrix in
  int64_t threads = 0, batch = 0;  // 0: the checkpoint's config's
};

int eval_command(const EvalFlags& f) {
  std::optional<EvalData> data;  // the checkpoint's test set unless the flags name other data
  if (!f.csv.empty()) {
    data = EvalData{};
    data->source.csv = f.csv;
    data->format = DataFormat::csv;
    data->csv_header = f.csv_header;
  } else if (!f.images.empty()) {
    data = EvalData{};
    data->source.images = f.images;
    data->source.labels = f.labels;
    data->format = DataFormat::idx;
  }
  const CheckpointEvaluation e =
      evaluate_checkpoint(f.checkpoint, data ? &*data : nullptr, {f.top, int(f.threads), f.batch});
  for (const std::string& w : e.warnings) std::cerr << "warning: " << w << "\n";
  if (!f.confusion.empty())
    io::write_atomically(f.confusion, report::confusion_svg(e.result.matrix(), e.class_names,
                                                            std::filesystem::path(f.checkpoint).filename().string() +
                                                                " (epoch " + std::to_string(e.epoch) + ") on " +
                                                                std::filesystem::path(e.data).filename().string()));
  if (f.json)
    print_evaluation_json(std::cout, f.checkpoint, e);
  else
    print_evaluation(std::cout, f.checkpoint, e);
  return kOk;
}

struct PredictFlags {
  std::string checkpoint;
  std::vector<std::string> inputs;
  std::string output;
  int64_t top = 1;
  bool json = false;
  bool csv_header = false;
  int64_t threads = 0, batch = 0;  // 0: the checkpoint's config's
};

int predict_command(const PredictFlags& f) {
  const io::Checkpoint ck = io::load_checkpoint(f.checkpoint);
  Predictor predictor(ck, int(f.threads), f.batch);
  std::vector<std::string> names = ck.config.data.class_names;
  if (int64_t(names.size()) != predictor.classes()) names.clear();
  // To a file: written whole when every input has been read, so that a failure leaves no half file.
  std::ostringstream to_file;
  std::ostream& out = f.output.empty() ? std::cout : to_file;
  // Every input opened (its kind and size checked) before anything is written, and closed again:
  // thousands of image files must not hold thousands of descriptors.
  for (const std::string& input : f.inputs) (void)predictor.open(input, f.csv_header);
  PredictionWriter writer(out, f.json, std::min(f.top, predictor.classes()), names);
  writer.header();
  for (const std::string& path : f.inputs) {
    const std::unique_ptr<data::Inputs> input = predictor.open(path, f.csv_header);
    predictor.run(*input, [&](int64_t index, const float* outputs) {
      writer.sample(input->path(), index, outputs, predictor.outputs());
    });
  }
  if (!f.output.empty()) io::write_atomically(f.output, to_file.str());
  return kOk;
}

struct InspectFlags {
  std::string checkpoint;
  bool json = false;
};

int inspect_command(const InspectFlags& f) {
  const io::Checkpoint ck = io::load_checkpoint(f.checkpoint);  // every check a load makes
  if (f.json)
    print_inspection_json(std::cout, f.checkpoint, ck);
  else
    print_inspection(std::cout, f.checkpoint, ck);
  return kOk;
}

struct ExportFlags {
  std::string checkpoint;
  std::string format;  // onnx or npz
  std::string output;
};

int export_command(const ExportFlags& f) {
  const io::ExportFormat format = f.format == "npz" ? io::ExportFormat::npz : io::ExportFormat::onnx;
  io::export_checkpoint(io::load_checkpoint(f.checkpoint), format, f.output);
  return kOk;
}

// --threads and --batch of eval and predict: how the network's passes run, not what they give (in
// the trainer's batches, the same bits on any thread count).
void add_pass_options(CLI::App* cmd, int64_t& threads, int64_t& batch) {
  cmd->add_option("--threads", threads, "Threads to share each batch's rows (default: the config's training.threads)")
      ->transform(whole_number(1, 1024));
  cmd->add_option("--batch", batch,
                  "Samples a batch (default: the config's training.batch_size; in other batches the outputs may differ "
                  "from the trainer's in a float's last bits)")
      ->transform(whole_number(1, 1 << 20));
}

}  // namespace

// eval: a checkpoint's loss, accuracy and confusion on a test set.
Command add_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  EvalFlags& f = *flags;
  CLI::App* eval =
      app.add_subcommand("eval", "Evaluate a checkpoint: loss, accuracy, per-class accuracy, confusion matrix");
  eval->add_option("checkpoint", f.checkpoint, "A .safetensors checkpoint written by nabla train")->required();
  auto* images = eval->add_option("--images", f.images, "IDX images to evaluate on (default: the config's test set)");
  auto* labels = eval->add_option("--labels", f.labels, "IDX labels for --images");
  auto* csv = eval->add_option("--csv", f.csv, "A CSV file to evaluate on (label first)");
  eval->add_flag("--csv-header", f.csv_header, "The CSV file's first row is a header")->needs(csv);
  eval->add_flag("--json", f.json,
                 "Print one JSON object (accuracy, loss, samples, correct, per_class_accuracy, confusion)");
  eval->add_option("--top", f.top,
                   "Also count the samples whose label is among the K most probable classes (top-K accuracy)")
      ->transform(whole_number(1, 1000))
      ->capture_default_str();
  eval->add_option("--confusion", f.confusion,
                   "Also draw the confusion matrix as a heat map into this SVG file (counts, per-class accuracy)");
  add_pass_options(eval, f.threads, f.batch);
  images->needs(labels);
  labels->needs(images);
  csv->excludes(images)->excludes(labels);
  return {eval, [flags] { return eval_command(*flags); }};
}

// predict: the class of every sample of new inputs.
Command add_predict(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  PredictFlags& f = *flags;
  CLI::App* predict =
      app.add_subcommand("predict", "Classify new inputs with a checkpoint: a row (or JSON line) per sample");
  predict->add_option("checkpoint", f.checkpoint, "A .safetensors checkpoint written by nabla train")->required();
  predict
      ->add_option(
          "inputs", f.inputs,
          "IDX images (raw or .gz), PGM (P5/P2) or PNG images, or CSV files of pixel rows (a label column first or "
          "not: told by the column count)")
      ->required();
  predict->add_option("-o,--output", f.output, "Write to this file (whole, when done) instead of standard output");
  predict->add_option("--top", f.top, "Also give the 2nd to the Kth most probable classes")
      ->transform(whole_number(1, 1000))
      ->capture_default_str();
  predict->add_flag("--json", f.json, "One JSON object per sample (with every class's probability) instead of CSV");
  predict->add_flag("--csv-header", f.csv_header,
                    "CSV inputs have a header row to pass over (without this flag, a first row that is not numbers "
                    "is taken for one)");
  add_pass_options(predict, f.threads, f.batch);
  return {predict, [flags] { return predict_command(*flags); }};
}

// inspect: what a checkpoint holds, verified.
Command add_inspect(CLI::App& app) {
  auto flags = std::make_shared<InspectFlags>();
  InspectFlags& f = *flags;
  CLI::App* inspect = app.add_subcommand(
      "inspect", "Verify a checkpoint completely and show its position, architecture, tensors and config");
  inspect->add_option("checkpoint", f.checkpoint, "A .safetensors checkpoint written by nabla train")->required();
  inspect->add_flag("--json", f.json, "One JSON object instead of text");
  return {inspect, [flags] { return inspect_command(*flags); }};
}

// export: the network for another runtime.
Command add_export(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  ExportFlags& f = *flags;
  CLI::App* exp = app.add_subcommand(
      "export", "Write a checkpoint's network for another runtime: ONNX (onnxruntime, ...) or NumPy's .npz");
  exp->add_option("checkpoint", f.checkpoint, "A .safetensors checkpoint written by nabla train")->required();
  exp->add_option("--format", f.format, "onnx or npz")->required()->check(CLI::IsMember({"onnx", "npz"}));
  exp->add_option("-o,--output", f.output, "The file to write (whole: a failure leaves no half file)")->required();
  return {exp, [flags] { return export_command(*flags); }};
}

}  // namespace nabla::cli
