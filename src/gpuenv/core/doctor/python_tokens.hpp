#pragma once
// Placeholder: filled by a split of source_scan.cpp.
