#pragma once

#include <string>
#include <string_view>

namespace gpuenv::core::spec {

/// Normalizes a Python distribution name as PEP 503 does: lowercase, runs of "-", "_", "."
/// become one "-" ("Foo.Bar__baz" -> "foo-bar-baz").
[[nodiscard]] std::string normalize_pypi_name(std::string_view name);

}  // namespace gpuenv::core::spec
