#include <gpuenv/core/fleet/transport.hpp>

#include <fstream>

#include <gpuenv/core/fleet/hostlist.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core::fleet {
namespace {

constexpr std::string_view k_host_placeholder = "{host}";
constexpr std::size_t k_stderr_tail = 4096;

bool is_safe_shell_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}

void check_host(const std::string& host) {
    if (host.empty())
        throw Error(ExitCode::usage, "empty host name");
    // A leading '-' would turn the host into an option of ssh, kubectl or the runner.
    if (host.front() == '-')
        throw Error(ExitCode::usage, "host name '" + host + "' starts with '-'");
    for (const char c : host) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= ' ' || u == 0x7f)
            throw Error(ExitCode::usage,
                        "host name '" + host + "' holds whitespace or a control character");
    }
}

std::vector<std::string> remote_command(const TransportOptions& options,
                                        const std::vector<std::string>& remote_args) {
    std::vector<std::string> words;
    words.reserve(remote_args.size() + 1);
    words.push_back(options.remote_gpuenv);
    words.insert(words.end(), remote_args.begin(), remote_args.end());
    return words;
}

std::vector<std::string> ssh_argv(const TransportOptions& options, const std::string& host,
                                  const std::vector<std::string>& remote_args) {
    std::vector<std::string> argv{
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=" + std::to_string(options.connect_timeout.count()),
        "-T"};
    argv.insert(argv.end(), options.ssh_args.begin(), options.ssh_args.end());
    // "--" ends ssh's options, so neither the host nor the command is read as one.
    argv.push_back("--");
    argv.push_back(host);
    // ssh joins its trailing arguments with spaces into one string that the remote user's
    // shell parses again; quoting each word is what keeps the argv intact on the node.
    argv.push_back(shell_join(remote_command(options, remote_args)));
    return argv;
}

std::vector<std::string> kubectl_argv(const TransportOptions& options, const std::string& host,
                                      const std::vector<std::string>& remote_args) {
    std::vector<std::string> argv{"kubectl", "exec", host};
    if (!options.kube_namespace.empty()) {
        argv.push_back("-n");
        argv.push_back(options.kube_namespace);
    }
    if (!options.kube_container.empty()) {
        argv.push_back("-c");
        argv.push_back(options.kube_container);
    }
    // kubectl exec hands the words after "--" to the container runtime as an argv, no shell.
    argv.push_back("--");
    auto command = remote_command(options, remote_args);
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
}

std::vector<std::string> template_argv(const TransportOptions& options, const std::string& host,
                                       const std::vector<std::string>& remote_args) {
    std::vector<std::string> argv = split_template(options.template_text);
    bool has_host = false;
    bool has_command = false;
    const auto command = remote_command(options, remote_args);
    std::vector<std::string> result;
    result.reserve(argv.size() + command.size());
    for (auto& word : argv) {
        if (word == "{command}") {
            // For runners that hand a string to a remote shell (pdsh, sh -c): one quoted word.
            result.push_back(shell_join(command));
            has_command = true;
            continue;
        }
        for (std::size_t at = word.find(k_host_placeholder); at != std::string::npos;
             at = word.find(k_host_placeholder, at + host.size())) {
            word.replace(at, k_host_placeholder.size(), host);
            has_host = true;
        }
        result.push_back(std::move(word));
    }
    if (!has_host)
        throw Error(ExitCode::usage,
                    "transport template '" + options.template_text + "' has no {host}");
    if (!has_command)
        result.insert(result.end(), command.begin(), command.end());
    return result;
}

}  // namespace

TransportOptions parse_via(std::string_view via) {
    TransportOptions options;
    if (via == "ssh") {
        options.kind = TransportKind::ssh;
    } else if (via == "srun") {
        options.kind = TransportKind::srun;
    } else if (via == "kubectl") {
        options.kind = TransportKind::kubectl;
    } else {
        if (via.find(k_host_placeholder) == std::string_view::npos)
            throw Error(ExitCode::usage,
                        "unknown transport '" + std::string(via) +
                            "': expected ssh, srun, kubectl or a command template holding "
                            "{host}");
        (void)split_template(via);  // reports a bad template now, not once per node
        options.kind = TransportKind::command_template;
        options.template_text = std::string(via);
    }
    return options;
}

std::string shell_quote(std::string_view word) {
    if (!word.empty()) {
        bool safe = true;
        for (const char c : word)
            safe = safe && is_safe_shell_char(c);
        if (safe)
            return std::string(word);
    }
    std::string quoted = "'";
    for (const char c : word) {
        if (c == '\'')
            quoted += "'\\''";
        else
            quoted += c;
    }
    quoted += '\'';
    return quoted;
}

std::string shell_join(const std::vector<std::string>& words) {
    std::string line;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0)
            line += ' ';
        const std::string_view word = words[i];
        if (i == 0 && word.starts_with("~/") && word.size() > 2) {
            line += "~/";
            line += shell_quote(word.substr(2));
        } else {
            line += shell_quote(word);
        }
    }
    return line;
}

std::vector<std::string> split_template(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    const auto fail = [&](std::size_t at, std::string_view what) {
        return Error(ExitCode::usage, "transport template '" + std::string(text) +
                                          "': " + std::string(what) + " at column " +
                                          std::to_string(at + 1));
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word)
                words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else if (c == '\'') {
            const auto end = text.find('\'', i + 1);
            if (end == std::string_view::npos)
                throw fail(i, "unterminated single quote");
            word.append(text.substr(i + 1, end - i - 1));
            in_word = true;
            i = end;
        } else if (c == '"') {
            const std::size_t open = i;
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                if (text[i] == '\\' && i + 1 < text.size() &&
                    (text[i + 1] == '"' || text[i + 1] == '\\'))
                    ++i;
                word += text[i];
            }
            if (i >= text.size())
                throw fail(open, "unterminated double quote");
            in_word = true;
        } else if (std::string_view("|&;<>$`\\").find(c) != std::string_view::npos) {
            throw fail(
                i, "'" + std::string(1, c) + "' is shell syntax, but no shell runs the template");
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word)
        words.push_back(std::move(word));
    if (words.empty())
        throw Error(ExitCode::usage, "transport template is empty");
    return words;
}

std::vector<std::string> node_argv(const TransportOptions& options, const std::string& host,
                                   const std::vector<std::string>& remote_args) {
    check_host(host);
    switch (options.kind) {
        case TransportKind::ssh:
            return ssh_argv(options, host, remote_args);
        case TransportKind::kubectl:
            return kubectl_argv(options, host, remote_args);
        case TransportKind::command_template:
            return template_argv(options, host, remote_args);
        case TransportKind::srun:
            break;
    }
    throw Error(ExitCode::usage, "srun runs all nodes in one step: use srun_argv");
}

std::vector<std::string> srun_argv(const TransportOptions& options,
                                   const std::vector<std::string>& hosts,
                                   const std::filesystem::path& output_dir,
                                   const std::vector<std::string>& remote_args) {
    if (hosts.empty())
        throw Error(ExitCode::usage, "srun needs at least one host");
    for (const auto& host : hosts)
        check_host(host);
    // %N is srun's "short hostname" pattern: one file per node. A '%' or a backslash in the
    // directory would be read as part of the pattern, so such a directory is refused.
    const std::string dir = output_dir.string();
    if (dir.find_first_of("%\\") != std::string::npos)
        throw Error(ExitCode::usage,
                    "srun output directory '" + dir + "' holds '%' or '\\', which srun expands");
    std::vector<std::string> argv{"srun",
                                  "-N",
                                  std::to_string(hosts.size()),
                                  "--ntasks-per-node=1",
                                  "-w",
                                  compress_hostlist(hosts),
                                  "--output=" + dir + "/%N.out",
                                  "--error=" + dir + "/%N.err",
                                  "--kill-on-bad-exit=0",
                                  "--quiet"};
    // srun execs the remaining words as the task's argv on each node, no shell involved.
    auto command = remote_command(options, remote_args);
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
}

std::map<std::string, SrunNodeOutput> read_srun_outputs(const std::filesystem::path& output_dir,
                                                        const std::vector<std::string>& hosts,
                                                        std::size_t max_output) {
    std::map<std::string, SrunNodeOutput> outputs;
    for (const auto& host : hosts) {
        SrunNodeOutput& node = outputs[host];
        std::error_code ec;
        const auto out_path = output_dir / (host + ".out");
        const auto size = std::filesystem::file_size(out_path, ec);
        if (!ec && size > max_output) {
            node.err_tail = "output larger than " + std::to_string(max_output) + " bytes";
            continue;
        }
        if (!ec) {
            std::ifstream in(out_path, std::ios::binary);
            if (in) {
                std::string text(size, '\0');
                in.read(text.data(), static_cast<std::streamsize>(size));
                text.resize(static_cast<std::size_t>(in.gcount()));
                node.out = std::move(text);
            }
        }
        std::ifstream err(output_dir / (host + ".err"), std::ios::binary);
        if (err) {
            err.seekg(0, std::ios::end);
            const auto end = static_cast<std::size_t>(err.tellg());
            const auto start = end > k_stderr_tail ? end - k_stderr_tail : 0;
            err.seekg(static_cast<std::streamoff>(start));
            std::string tail(end - start, '\0');
            err.read(tail.data(), static_cast<std::streamsize>(tail.size()));
            tail.resize(static_cast<std::size_t>(err.gcount()));
            node.err_tail = std::move(tail);
        }
    }
    return outputs;
}

std::string runner_program(const TransportOptions& options) {
    switch (options.kind) {
        case TransportKind::ssh:
            return "ssh";
        case TransportKind::srun:
            return "srun";
        case TransportKind::kubectl:
            return "kubectl";
        case TransportKind::command_template:
            return split_template(options.template_text).front();
    }
    return "?";
}

}  // namespace gpuenv::core::fleet
