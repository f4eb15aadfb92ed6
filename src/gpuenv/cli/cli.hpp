#pragma once

namespace gpuenv::cli {

/// Parses the command line, runs one command and returns the process exit code; the one
/// place where gpuenv::Error is caught and printed.
int run(int argc, char** argv);

}  // namespace gpuenv::cli
