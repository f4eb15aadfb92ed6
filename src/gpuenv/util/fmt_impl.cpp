// fmt's compiled functions (vprint, format_error, the floating-point tables), built here from
// Debian's libfmt-dev headers as fmt's own format.cc builds them. Debian ships fmt only as a
// shared library, which needs libstdc++.so; gpuenv links libstdc++ statically so that every
// command starts faster (docs/BENCHMARKS.md, `gpuenv run`), and so builds fmt in.
#include <fmt/format-inl.h>

// The two templates format.h declares for char and leaves to the compiled part.
template auto fmt::detail::thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template auto fmt::detail::decimal_point_impl<char>(locale_ref) -> char;
