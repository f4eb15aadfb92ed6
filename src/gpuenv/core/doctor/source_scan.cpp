// Rule 11 (--scan): Python sources and notebooks that set CUDA_VISIBLE_DEVICES after importing
// torch. CUDA reads the variable once, when the first CUDA call initialises it; torch does not
// initialise CUDA at import, so such an assignment works until a CUDA call (or a library doing
// one) has run. The sources are tokenized (python_tokens.hpp), so a docstring showing the idiom
// is not a finding, and the assignments are matched on tokens. This file walks the scanned
// directories, reads notebooks, finds the events in the tokens and writes the finding.

#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/doctor/python_tokens.hpp>

#include <algorithm>
#include <set>
#include <system_error>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <gpuenv/util/file.hpp>
#include <gpuenv/util/json_value.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

constexpr std::uintmax_t k_max_source_bytes = std::uintmax_t{4} << 20u;
// Notebooks carry their outputs (plots as base64): a larger cap keeps them in the scan.
constexpr std::uintmax_t k_max_notebook_bytes = std::uintmax_t{32} << 20u;
constexpr std::string_view k_variable = "CUDA_VISIBLE_DEVICES";
constexpr std::size_t k_max_evidence_text = 160;

// ---- a scanned unit: a .py file, or a notebook's code cells in order ------------------------

struct SourceLine {
    int cell = 0;  ///< 1-based cell index in a notebook; 0 in a .py file
    int line = 0;  ///< line within the cell (or the file)
    std::string_view text;
};

struct SourceUnit {
    bool notebook = false;
    std::vector<std::string> cells;      ///< code as tokenized (magic lines blanked in notebooks)
    std::vector<std::string> originals;  ///< a notebook's cell sources as written
    std::vector<SourceLine> lines;       ///< the unit's line N is lines[N - 1]
    std::vector<Token> tokens;
};

bool is_variable(const std::vector<Token>& tokens, std::size_t i) {
    return is_token(tokens, i, TokenKind::string, k_variable);
}

// Returns what IPython's %env or %set_env assigns to CUDA_VISIBLE_DEVICES ("NAME=VALUE" or
// "NAME VALUE"), or nothing when the line only reads it or names another variable.
std::optional<std::string_view> env_magic_value(std::string_view arguments) {
    arguments = util::trim(arguments);
    const auto equals = arguments.find('=');
    if (equals != std::string_view::npos) {
        if (util::trim(arguments.substr(0, equals)) != k_variable)
            return std::nullopt;
        return util::trim(arguments.substr(equals + 1));
    }
    const auto space = arguments.find_first_of(" \t");
    if (space == std::string_view::npos || arguments.substr(0, space) != k_variable)
        return std::nullopt;
    return util::trim(arguments.substr(space));
}

// Cell magics whose body is still Python run in the kernel; any other (%%bash, %%writefile)
// is not this kernel's Python.
bool python_cell_magic(std::string_view line) {
    const std::string_view name = line.substr(2, line.find_first_of(" \t") - 2);
    return name == "time" || name == "timeit" || name == "capture" || name == "prun";
}

// Appends a cell's (or a file's) lines and tokens to the unit. In notebooks, %-magic and !-shell
// lines are blanked before tokenizing, and a %env that sets the variable becomes a token.
void add_code(SourceUnit& unit, std::size_t cell, int& next_scope) {
    const std::string_view original =
        unit.notebook ? std::string_view(unit.originals[cell]) : std::string_view(unit.cells[cell]);
    const int first_line = static_cast<int>(unit.lines.size()) + 1;
    auto pieces = util::split(original, '\n');
    if (!pieces.empty() && pieces.back().empty())
        pieces.pop_back();
    std::vector<Token> magics;
    std::string& code = unit.cells[cell];
    bool python = true;
    std::size_t offset = 0;
    for (std::size_t n = 0; n < pieces.size(); ++n) {
        const int line = first_line + static_cast<int>(n);
        unit.lines.push_back(
            {unit.notebook ? static_cast<int>(cell) + 1 : 0, static_cast<int>(n) + 1, pieces[n]});
        const std::string_view text = util::trim(pieces[n]);
        if (unit.notebook && (text.starts_with('%') || text.starts_with('!'))) {
            if (n == 0 && text.starts_with("%%"))
                python = python_cell_magic(text);
            const std::string_view magic = text.substr(1, text.find_first_of(" \t") - 1);
            if (magic == "env" || magic == "set_env") {
                if (const auto value = env_magic_value(text.substr(magic.size() + 1))) {
                    magics.push_back({TokenKind::magic, *value, line, 0, 0});
                    magics.push_back({TokenKind::newline, {}, line, 0, 0});
                }
            }
            std::fill_n(code.begin() + static_cast<std::ptrdiff_t>(offset), pieces[n].size(), ' ');
        }
        offset += pieces[n].size() + 1;
    }
    if (!python)
        return;
    const auto start = static_cast<std::ptrdiff_t>(unit.tokens.size());
    Tokenizer(unit.tokens, next_scope).run(code, first_line);
    const auto middle = static_cast<std::ptrdiff_t>(unit.tokens.size());
    unit.tokens.insert(unit.tokens.end(), magics.begin(), magics.end());
    std::inplace_merge(unit.tokens.begin() + start, unit.tokens.begin() + middle, unit.tokens.end(),
                       [](const Token& a, const Token& b) { return a.line < b.line; });
}

// ---- what the tokens say --------------------------------------------------------------------

struct Event {
    std::size_t index = 0;  ///< token index: the order of execution at module level
    int line = 0;
    int scope = 0;
    std::string_view what;  ///< the module imported, or the value assigned ("" when not literal)
};

struct Events {
    std::vector<Event> imports;
    std::vector<Event> cuda_calls;
    std::vector<Event> assignments;
};

// Modules that import torch as they load.
bool imports_torch(std::string_view module) {
    const std::string_view root = module.substr(0, module.find('.'));
    return root == "torch" || root == "torchvision" || root == "torchaudio" ||
           root == "torchtext" || root == "pytorch_lightning" || root == "lightning" ||
           root == "timm";
}

class EventFinder {
  public:
    explicit EventFinder(const std::vector<Token>& tokens) : m_tokens(tokens) {}

    Events run() {
        for (std::size_t i = 0; i < m_tokens.size(); ++i) {
            const Token& token = m_tokens[i];
            if (token.kind == TokenKind::magic) {
                add(m_events.assignments, i, token.text);
            } else if (token.kind == TokenKind::name && statement_start(i) &&
                       (token.text == "import" || token.text == "from")) {
                i = import_statement(i);
            } else if (token.kind == TokenKind::name) {
                assignment(i);
                cuda_call(i);
            } else if (is_op(m_tokens, i, ".")) {
                method_call(i);
            }
        }
        return std::move(m_events);
    }

  private:
    bool statement_start(std::size_t i) const {
        return i == 0 || m_tokens[i - 1].kind == TokenKind::newline ||
               m_tokens[i - 1].kind == TokenKind::magic || is_op(m_tokens, i - 1, ";") ||
               (is_op(m_tokens, i - 1, ":") && m_tokens[i - 1].depth == 0);
    }

    void add(std::vector<Event>& events, std::size_t i, std::string_view what = {}) {
        events.push_back({i, m_tokens[i].line, m_tokens[i].scope, what});
    }

    // Handles `import a.b as c, d` and `from a.b import c as d, (e)`; returns the last token
    // of the statement.
    std::size_t import_statement(std::size_t i) {
        const std::size_t start = i;
        if (m_tokens[i].text == "from") {
            ++i;
            const std::string module = read_dotted(m_tokens, i);
            if (module.empty() || !is_name(m_tokens, i, "import"))
                return i;
            if (imports_torch(module))
                add(m_events.imports, start, m_tokens[start + 1].text);
            for (++i; i < m_tokens.size() && m_tokens[i].kind != TokenKind::newline &&
                      !is_op(m_tokens, i, ";");
                 ++i) {
                if (module == "torch" && is_name(m_tokens, i, "cuda"))
                    m_cuda_names.emplace_back("cuda");
                if (module == "torch" && is_name(m_tokens, i - 1, "cuda") &&
                    is_name(m_tokens, i, "as") && i + 1 < m_tokens.size())
                    m_cuda_names.emplace_back(m_tokens[i + 1].text);
            }
            return i;
        }
        for (++i; i < m_tokens.size();) {
            const std::size_t name_token = i;
            const std::string module = read_dotted(m_tokens, i);
            if (module.empty())
                break;
            if (imports_torch(module))
                add(m_events.imports, name_token, m_tokens[name_token].text);
            if (is_name(m_tokens, i, "as") && i + 1 < m_tokens.size()) {
                if (module == "torch")
                    m_torch_names.emplace_back(m_tokens[i + 1].text);
                else if (module == "torch.cuda")
                    m_cuda_names.emplace_back(m_tokens[i + 1].text);
                i += 2;
            }
            if (!is_op(m_tokens, i, ","))
                break;
            ++i;
        }
        return i > start ? i - 1 : start;
    }

    void assignment(std::size_t i) {
        const auto& t = m_tokens;
        const std::string_view name = t[i].text;
        if (name == "environ") {
            // environ["CUDA_VISIBLE_DEVICES"] = value
            if (is_op(t, i + 1, "[") && is_variable(t, i + 2) && is_op(t, i + 3, "]") &&
                is_op(t, i + 4, "="))
                return add(m_events.assignments, i, literal(i + 5));
            // environ.setdefault("CUDA_VISIBLE_DEVICES", value)
            if (is_op(t, i + 1, ".") && is_name(t, i + 2, "setdefault") && is_op(t, i + 3, "(") &&
                is_variable(t, i + 4) && is_op(t, i + 5, ","))
                return add(m_events.assignments, i, literal(i + 6));
            // environ.update({"CUDA_VISIBLE_DEVICES": value}) or (CUDA_VISIBLE_DEVICES=value)
            if (is_op(t, i + 1, ".") && is_name(t, i + 2, "update") && is_op(t, i + 3, "("))
                return mapping_assignment(i, i + 4, t[i + 3].depth);
            // environ |= {"CUDA_VISIBLE_DEVICES": value}
            if (is_op(t, i + 1, "|="))
                return mapping_assignment(i, i + 2, t[i].depth);
        } else if (name == "putenv") {
            if (is_op(t, i + 1, "(") && is_variable(t, i + 2) && is_op(t, i + 3, ","))
                return add(m_events.assignments, i, literal(i + 4));
        } else if (name == "run_line_magic") {
            // get_ipython().run_line_magic("env", "CUDA_VISIBLE_DEVICES=1"), as nbconvert
            // writes %env into a script
            if (is_op(t, i + 1, "(") && i + 4 < t.size() && t[i + 2].kind == TokenKind::string &&
                (t[i + 2].text == "env" || t[i + 2].text == "set_env") && is_op(t, i + 3, ",") &&
                t[i + 4].kind == TokenKind::string) {
                if (const auto value = env_magic_value(t[i + 4].text))
                    add(m_events.assignments, i, *value);
            }
        }
    }

    // Finds "CUDA_VISIBLE_DEVICES": value or CUDA_VISIBLE_DEVICES=value in the call or
    // expression starting at `from`, which ends at the first token back at `depth`.
    void mapping_assignment(std::size_t at, std::size_t from, int depth) {
        const auto& t = m_tokens;
        for (std::size_t i = from; i < t.size() && t[i].kind != TokenKind::newline; ++i) {
            if (t[i].depth <= depth && is_op(t, i, ")"))
                return;
            if ((is_variable(t, i) && is_op(t, i + 1, ":")) ||
                (is_name(t, i, k_variable) && is_op(t, i + 1, "=")))
                return add(m_events.assignments, at, literal(i + 2));
        }
    }

    std::string_view literal(std::size_t i) const {
        return i < m_tokens.size() && m_tokens[i].kind == TokenKind::string ? m_tokens[i].text
                                                                            : std::string_view();
    }

    bool any_of(const std::vector<std::string_view>& names, std::string_view name) const {
        return std::find(names.begin(), names.end(), name) != names.end();
    }

    void cuda_call(std::size_t i) {
        const auto& t = m_tokens;
        if (i > 0 && is_op(t, i - 1, "."))
            return;
        // torch.cuda.is_available(), torch.cuda.set_device(0), th.cuda.device_count()
        if (any_of(m_torch_names, t[i].text) && is_op(t, i + 1, ".") && is_name(t, i + 2, "cuda") &&
            is_op(t, i + 3, "."))
            return add(m_events.cuda_calls, i);
        // `from torch import cuda`, then cuda.synchronize()
        if (any_of(m_cuda_names, t[i].text) && is_op(t, i + 1, ".") && i + 2 < t.size() &&
            t[i + 2].kind == TokenKind::name)
            return add(m_events.cuda_calls, i);
        // torch.zeros(3, device="cuda"): a keyword argument, not `device = "cuda"`
        if (t[i].text == "device" && t[i].depth > 0 && is_op(t, i + 1, "=") && i + 2 < t.size() &&
            t[i + 2].kind == TokenKind::string && t[i + 2].text.starts_with("cuda"))
            return add(m_events.cuda_calls, i);
    }

    void method_call(std::size_t i) {
        const auto& t = m_tokens;
        // model.cuda(), tensor.to("cuda:0")
        if ((is_name(t, i + 1, "cuda") && is_op(t, i + 2, "(")) ||
            (is_name(t, i + 1, "to") && is_op(t, i + 2, "(") && i + 3 < t.size() &&
             t[i + 3].kind == TokenKind::string && t[i + 3].text.starts_with("cuda")))
            add(m_events.cuda_calls, i);
    }

    const std::vector<Token>& m_tokens;
    Events m_events;
    std::vector<std::string_view> m_torch_names{"torch"};
    std::vector<std::string_view> m_cuda_names;
};

// ---- the finding ----------------------------------------------------------------------------

// An event runs before an assignment when it comes first and is module-level code or in the
// same function; code in another function's body has not necessarily run.
bool runs_before(const Event& event, const Event& assignment) {
    return event.index < assignment.index && (event.scope == 0 || event.scope == assignment.scope);
}

const Event* first_before(const std::vector<Event>& events, const Event& assignment,
                          std::size_t after = 0) {
    for (const Event& event : events) {
        if (event.index >= after && runs_before(event, assignment))
            return &event;
    }
    return nullptr;
}

std::string where(const SourceUnit& unit, int line) {
    const SourceLine& ref = unit.lines[static_cast<std::size_t>(line - 1)];
    if (unit.notebook)
        return fmt::format("cell {}, line {}", ref.cell, ref.line);
    return fmt::format("line {}", line);
}

std::string quote(const SourceUnit& unit, const std::string& path, int line) {
    const SourceLine& ref = unit.lines[static_cast<std::size_t>(line - 1)];
    std::string text(util::trim(ref.text));
    if (text.size() > k_max_evidence_text)
        text = text.substr(0, k_max_evidence_text) + "...";
    if (unit.notebook)
        return fmt::format("{}: cell {}, line {} (code line {}): {}", path, ref.cell, ref.line,
                           line, text);
    return fmt::format("{}:{}: {}", path, line, text);
}

// Keeps a literal value for the fix only when it is plainly a device list.
std::string device_list(std::string_view value) {
    const bool plain =
        !value.empty() && value.size() <= 64 && std::all_of(value.begin(), value.end(), [](char c) {
            return is_name_char(c) || c == ',' || c == '-' || c == ':';
        });
    return plain ? std::string(value) : std::string("IDS");
}

std::string fix_text(const SourceUnit& unit, const std::string& path, std::string_view value) {
    const std::string ids = device_list(value);
    if (unit.notebook)
        return fmt::format(
            "set it in the first cell, before any import (`%env CUDA_VISIBLE_DEVICES={0}`), "
            "and restart the kernel (a running kernel keeps the GPUs it saw first); or start "
            "Jupyter with it set, so every kernel inherits it: `CUDA_VISIBLE_DEVICES={0} "
            "jupyter lab`",
            ids);
    return fmt::format(
        "set it before torch is imported, or better outside Python: `CUDA_VISIBLE_DEVICES={0} "
        "python {1}`, `gpuenv run -p PREFIX --gpu {0} -- python {1}`, or `gpuenv bind -p "
        "PREFIX --gpus {0}` for every run of the environment",
        ids, path);
}

void judge(const SourceUnit& unit, const std::string& path, DoctorReport& report) {
    const Events events = EventFinder(unit.tokens).run();
    const Event* chosen = nullptr;
    const Event* chosen_import = nullptr;
    const Event* chosen_call = nullptr;
    std::vector<const Event*> late;
    for (const Event& assignment : events.assignments) {
        const Event* import = first_before(events.imports, assignment);
        if (import == nullptr)
            continue;
        late.push_back(&assignment);
        const Event* call = first_before(events.cuda_calls, assignment, import->index);
        if (chosen == nullptr || (call != nullptr && chosen_call == nullptr)) {
            chosen = &assignment;
            chosen_import = import;
            chosen_call = call;
        }
    }
    if (chosen == nullptr)
        return;
    const std::string import_what = chosen_import->what == "torch"
                                        ? std::string("torch is imported")
                                        : fmt::format("{} imports torch", chosen_import->what);
    DoctorFinding finding;
    finding.rule = "late_cuda_visible_devices";
    if (chosen_call != nullptr) {
        finding.severity = Severity::error;
        finding.title = fmt::format(
            "{} sets CUDA_VISIBLE_DEVICES at {} too late: CUDA is initialised by the call at {} "
            "and reads the variable only then",
            path, where(unit, chosen->line), where(unit, chosen_call->line));
    } else {
        finding.severity = Severity::warning;
        finding.title = fmt::format(
            "{} sets CUDA_VISIBLE_DEVICES at {}, after {} ({}); it takes effect only if no "
            "CUDA call ran before it",
            path, where(unit, chosen->line), import_what, where(unit, chosen_import->line));
    }
    finding.evidence.push_back(quote(unit, path, chosen_import->line));
    if (chosen_call != nullptr)
        finding.evidence.push_back(quote(unit, path, chosen_call->line));
    finding.evidence.push_back(quote(unit, path, chosen->line));
    for (const Event* other : late) {
        if (other != chosen && finding.evidence.size() < 8)
            finding.evidence.push_back(quote(unit, path, other->line));
    }
    finding.fix = fix_text(unit, path, chosen->what);
    report.findings.push_back(std::move(finding));
}

// ---- reading --------------------------------------------------------------------------------

// Reads a notebook's code cells (nbformat 4 "cells", or nbformat 3 "worksheets"); a
// malformed one becomes a warning.
std::optional<SourceUnit> read_notebook(const std::string& path, const std::string& text,
                                        gpuenv::Diagnostics& warnings) {
    nlohmann::json root;
    try {
        root = util::json::parse_value(text);
    } catch (const util::json::SyntaxError& error) {
        const auto at = util::line_column(text, error.offset());
        warnings.push_back(
            {path, at.line, at.column, std::string("not a valid notebook: ") + error.what()});
        return std::nullopt;
    }
    const nlohmann::json* cells = nullptr;
    const char* source_key = "source";
    if (root.is_object() && root.contains("cells") && root["cells"].is_array()) {
        cells = &root["cells"];
    } else if (root.is_object() && root.contains("worksheets") && root["worksheets"].is_array() &&
               !root["worksheets"].empty() && root["worksheets"][0].is_object() &&
               root["worksheets"][0].contains("cells") &&
               root["worksheets"][0]["cells"].is_array()) {
        cells = &root["worksheets"][0]["cells"];
        source_key = "input";
    }
    if (cells == nullptr) {
        warnings.push_back({path, 0, 0, "not a notebook: no \"cells\" list"});
        return std::nullopt;
    }
    SourceUnit unit;
    unit.notebook = true;
    int number = 0;
    for (const auto& cell : *cells) {
        ++number;
        if (!cell.is_object() || cell.value("cell_type", "") != "code" ||
            !cell.contains(source_key))
            continue;
        const auto& source = cell[source_key];
        std::string code;
        if (source.is_string()) {
            code = source.get<std::string>();
        } else if (source.is_array()) {
            for (const auto& piece : source) {
                if (piece.is_string())
                    code += piece.get_ref<const std::string&>();
            }
        } else {
            warnings.push_back({path, 0, 0, fmt::format("cell {}: source is not text", number)});
            continue;
        }
        // Keep the cell's number: lines name it.
        unit.originals.resize(static_cast<std::size_t>(number));
        unit.cells.resize(static_cast<std::size_t>(number));
        unit.originals.back() = code;
        unit.cells.back() = std::move(code);
    }
    return unit;
}

void scan_file(const std::filesystem::path& file, DoctorReport& report) {
    const std::string path = file.string();
    const bool notebook = file.extension() == ".ipynb";
    std::error_code error;
    const auto size = std::filesystem::file_size(file, error);
    const auto limit = notebook ? k_max_notebook_bytes : k_max_source_bytes;
    if (!error && size > limit) {
        report.warnings.push_back(
            {path, 0, 0, fmt::format("not scanned: larger than {} MiB", limit >> 20u)});
        return;
    }
    std::string text;
    std::string reason;
    if (!util::read_file_into(file, text, reason)) {
        report.warnings.push_back({path, 0, 0, "cannot read: " + reason});
        return;
    }
    // Most files never name the variable: they cannot hold a finding, and are not parsed.
    if (text.find(k_variable) == std::string::npos)
        return;
    // Scope ids must be unique across a notebook's cells.
    int next_scope = 0;
    if (!notebook) {
        SourceUnit unit;
        unit.cells.push_back(std::move(text));
        add_code(unit, 0, next_scope);
        return judge(unit, path, report);
    }
    auto unit = read_notebook(path, text, report.warnings);
    if (!unit)
        return;
    for (std::size_t cell = 0; cell < unit->cells.size(); ++cell) {
        if (!unit->originals[cell].empty())
            add_code(*unit, cell, next_scope);
    }
    judge(*unit, path, report);
}

bool skipped_directory(const std::string& name) {
    return name.empty() || name.front() == '.' || name == "__pycache__" || name == "node_modules" ||
           name == "site-packages" || name == "dist-packages";
}

bool scanned_file(const std::filesystem::path& path) {
    const auto extension = path.extension();
    return extension == ".py" || extension == ".ipynb";
}

// Lists the .py and .ipynb files under `root`, without following directory symlinks.
std::vector<std::filesystem::path> list_sources(const std::filesystem::path& root,
                                                gpuenv::Diagnostics& warnings) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    std::error_code error;
    const auto status = fs::status(root, error);
    if (error || !fs::exists(status)) {
        warnings.push_back({root.string(), 0, 0,
                            "cannot scan: " + (error ? error.message() : "no such directory")});
        return files;
    }
    if (fs::is_regular_file(status)) {
        files.push_back(root);  // named on the command line: scanned whatever its extension
        return files;
    }
    if (!fs::is_directory(status)) {
        // A FIFO or a device would block the read.
        warnings.push_back({root.string(), 0, 0, "cannot scan: not a file or directory"});
        return files;
    }
    std::vector<fs::path> pending{root};
    while (!pending.empty()) {
        const fs::path dir = std::move(pending.back());
        pending.pop_back();
        fs::directory_iterator it(dir, error);
        if (error) {
            warnings.push_back({dir.string(), 0, 0, "cannot list: " + error.message()});
            continue;
        }
        for (; it != fs::directory_iterator(); it.increment(error)) {
            if (error) {
                warnings.push_back({dir.string(), 0, 0, "cannot list: " + error.message()});
                break;
            }
            std::error_code ignored;
            const fs::path& path = it->path();
            if (it->is_symlink(ignored)) {
                if (it->is_regular_file(ignored) && scanned_file(path))
                    files.push_back(path);
            } else if (it->is_directory(ignored)) {
                if (!skipped_directory(path.filename().string()))
                    pending.push_back(path);
            } else if (it->is_regular_file(ignored) && scanned_file(path)) {
                files.push_back(path);
            }
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

void check_sources(const DoctorInput& input, DoctorReport& report) {
    std::vector<std::filesystem::path> files;
    for (const auto& dir : input.scan_dirs) {
        auto found = list_sources(dir, report.warnings);
        files.insert(files.end(), std::make_move_iterator(found.begin()),
                     std::make_move_iterator(found.end()));
    }
    // --scan . --scan src names src's files twice.
    std::set<std::string> seen;
    for (const auto& file : files) {
        if (seen.insert(file.lexically_normal().string()).second)
            scan_file(file, report);
    }
}

}  // namespace gpuenv::core::doctor
