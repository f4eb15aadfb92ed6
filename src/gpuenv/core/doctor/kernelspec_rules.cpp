// Placeholder: filled by a split of an oversized doctor file.
