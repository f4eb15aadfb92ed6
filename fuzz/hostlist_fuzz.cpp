// Fuzzes Slurm hostlist expansion: any bytes never crash; an expansion stays within the bound
// and gives non-empty names without '[', ']' or ','; compressing it re-expands to the same
// list, order and duplicates included (checked up to 100,000 names, so that inputs near the
// 1,000,000 bound stay within libFuzzer's timeout under ASan). The same bytes as a host file
// never crash either.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/fleet/hostlist.hpp>
#include <gpuenv/util/error.hpp>

namespace {

using gpuenv::core::fleet::compress_hostlist;
using gpuenv::core::fleet::expand_hostlist;

void check(const std::vector<std::string>& hosts) {
    if (hosts.size() > gpuenv::core::fleet::k_max_hosts)
        __builtin_trap();
    for (const std::string& host : hosts) {
        if (host.empty() || host.find_first_of("[],") != std::string::npos)
            __builtin_trap();
    }
    if (hosts.size() <= 100'000 && expand_hostlist(compress_hostlist(hosts)) != hosts)
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        check(expand_hostlist(text));
    } catch (const gpuenv::Error&) {
    }
    // Without a newline or '#', a host file is the expression again.
    if (text.find_first_of("\n#") == std::string_view::npos)
        return 0;
    try {
        check(gpuenv::core::fleet::parse_host_file(text, "fuzz"));
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
