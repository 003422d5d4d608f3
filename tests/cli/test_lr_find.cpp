// nabla lr-find, run as a user runs it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/helpers.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

namespace {

// The number after `label` in the output.
double number_after(const std::string& output, const std::string& label) {
  const size_t at = output.find(label);
  REQUIRE(at != std::string::npos);
  return std::strtod(output.c_str() + at + label.size(), nullptr);
}

}  // namespace

TEST_CASE("lr-find raises the rate exponentially, suggests a tenth of the best one, and draws the curve") {
  const fs::path dir = fresh_dir("lr-find");
  fs::create_directories(dir);
  // 11 steps from 1e-5 to 1e5: the rate multiplies by 10 at every step.
  const Run r = run_nabla("lr-find configs/gradcheck.json --steps 11 --min-lr 1e-5 --max-lr 1e5 --output " +
                          (dir / "lr.svg").string());
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  std::istringstream lines(r.output);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "lr-find: 11 steps of gradcheck (adam, batches of 32) at rates rising from 1e-05 to 100000");
  std::getline(lines, line);  // the table's header
  for (const char* lr : {"1e-05", "0.0001", "0.001", "0.01", "0.1", "1", "10"}) {
    REQUIRE(std::getline(lines, line));
    CHECK(line.substr(0, 12) == std::string(12 - std::string(lr).size(), ' ') + lr);
  }
  // Adam at a rate of 100: the loss blows up, and the test stops there.
  CHECK(r.output.find("the loss diverged at lr 100 (step 8)\n") != std::string::npos);
  const std::string tail = r.output.substr(r.output.find("lowest smoothed loss"));
  const double lowest = number_after(tail, " at lr "), suggested = number_after(tail, "suggested learning rate: ");
  CHECK(suggested == doctest::Approx(lowest / 10).epsilon(0.01));
  CHECK(r.output.find("(the rate at the lowest smoothed loss, divided by 10)\nwrote " + (dir / "lr.svg").string()) !=
        std::string::npos);
  std::ifstream svg(dir / "lr.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK(text.rfind("<svg", 0) == 0);
  CHECK(text.find("suggested ") != std::string::npos);
  CHECK(text.find("learning rate (log scale)") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("lr-find refuses bad rates and configs with one-line errors") {
  const Run backwards = run_nabla("lr-find configs/gradcheck.json --min-lr 1 --max-lr 0.1 --output /dev/null");
  CHECK(backwards.code == 2);
  CHECK(backwards.output == "nabla lr-find: --max-lr (0.1) must exceed --min-lr (1)\n");
  const Run missing = run_nabla("lr-find configs/absent.json");
  CHECK(missing.code == 2);
  CHECK(missing.output.find("configs/absent.json: cannot open") == 0);
  const Run bad = run_nabla("lr-find configs/gradcheck.json --set training.batch_size=0");
  CHECK(bad.code == 2);
  CHECK(bad.output ==
        "configs/gradcheck.json: training.batch_size: expected a positive integer up to 1048576, got 0\n");
}
