// extract_snippets OUT.cpp DOC.md...: gathers every ```cpp block of the docs into one translation unit, which
// the package test compiles against ferrum (docs that compile). Each block gets its own namespace; #line
// directives make a compiler error name the doc file and line. What a block becomes:
//   - a complete program (it contains `int main(`): compiled as written, at namespace scope (main renamed);
//   - any other block is a fragment: the body of a function, after the declarations that an HTML comment
//     just above the fence gives it, `<!-- snippet: given std::vector<double> phase, mag; -->` (the
//     comment may span lines; readers of the rendered page do not see it);
//   - `<!-- snippet: declarations -->` above the fence: compiled at namespace scope (class sketches);
//   - `<!-- snippet: skip, reason -->` above the fence: not compiled (e.g. it needs CUDA).
// A page that should stay free of these comments (README.md) or whose sections belong to others may instead
// be marked in a markers file (--markers FILE, before OUT.cpp): lines `DOC<TAB>TEXT<TAB>MARKER`, the marker of
// the first block of DOC whose code contains TEXT (robust to lines moving; a line no block matches is an
// error, so a stale entry is noticed). #include lines of any block are hoisted to the top of the file.
#include <cctype>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct block {
    std::string file;
    std::size_t line = 0;  // of the first code line
    std::vector<std::string> code;
    std::string marker;  // the snippet comment's text after "snippet:", trimmed
};

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::vector<block> read_blocks(const std::string& path, const std::string& name) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<block> out;
    std::string line, marker, pending;
    bool in_comment = false, in_code = false, in_other_fence = false;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        const std::string t = trim(line);
        if (in_code) {
            if (starts_with(t, "```")) in_code = false;
            else out.back().code.push_back(line);
            continue;
        }
        if (in_other_fence) {
            if (starts_with(t, "```")) in_other_fence = false;
            continue;
        }
        if (in_comment) {
            pending += "\n" + line;
            if (t.find("-->") != std::string::npos) {
                in_comment = false;
                marker = trim(pending.substr(0, pending.find("-->")));
            }
            continue;
        }
        if (starts_with(t, "<!-- snippet:")) {
            pending = t.substr(13);
            if (t.find("-->") != std::string::npos) marker = trim(pending.substr(0, pending.find("-->")));
            else in_comment = true;
            continue;
        }
        if (t == "```cpp" || t == "```c++") {
            out.push_back({name, n + 1, {}, marker});
            marker.clear();
            in_code = true;
            continue;
        }
        if (starts_with(t, "```")) in_other_fence = true;
        if (!t.empty()) marker.clear();  // a marker belongs to the fence right below it
    }
    return out;
}

std::string identifier(const std::string& s) {
    std::string id;
    for (char c : s) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return id;
}

struct side_marker {
    std::string doc, text, marker;
    bool used = false;
};

std::vector<side_marker> read_markers(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<side_marker> out;
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        if (trim(line).empty() || trim(line)[0] == '#') continue;
        const auto a = line.find('\t'), b = a == std::string::npos ? a : line.find('\t', a + 1);
        if (b == std::string::npos)
            throw std::runtime_error(path + ":" + std::to_string(n) + ": expected DOC<TAB>TEXT<TAB>MARKER");
        out.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), trim(line.substr(b + 1))});
    }
    return out;
}

int run(int argc, char** argv) {
    std::vector<side_marker> side;
    if (argc > 2 && std::string(argv[1]) == "--markers") {
        side = read_markers(argv[2]);
        argc -= 2;
        argv += 2;
    }
    if (argc < 3) {
        std::cerr << "usage: extract_snippets [--markers FILE] OUT.cpp DOC.md...\n";
        return 2;
    }
    {
        std::set<std::string> includes;
        std::ostringstream body;
        std::size_t compiled = 0, skipped = 0;
        for (int a = 2; a < argc; ++a) {
            const std::string path = argv[a];
            for (block b : read_blocks(path, path)) {
                for (auto& m : side) {
                    if (m.used || m.doc != path) continue;
                    for (const auto& l : b.code)
                        if (l.find(m.text) != std::string::npos) {
                            b.marker = m.marker;
                            m.used = true;
                            break;
                        }
                }
                if (starts_with(b.marker, "skip")) {
                    ++skipped;
                    continue;
                }
                bool program = false;
                for (const auto& l : b.code) program = program || l.find("int main(") != std::string::npos;
                const bool declarations = b.marker == "declarations";
                const bool given = starts_with(b.marker, "given");
                if (!b.marker.empty() && !declarations && !given)
                    throw std::runtime_error(path + ":" + std::to_string(b.line - 1) + ": unknown snippet marker '" +
                                             b.marker + "' (given ..., declarations or skip, ...)");
                body << "namespace snippet_" << identifier(path) << "_" << b.line << " {\n";
                if (!program && !declarations) body << "[[maybe_unused]] void snippet() {\n";
                if (given) body << b.marker.substr(5) << "\n";
                body << "#line " << b.line << " \"" << path << "\"\n";
                for (std::string l : b.code) {
                    if (starts_with(trim(l), "#include")) {
                        includes.insert(trim(l));
                        l = "";
                    }
                    if (const auto m = l.find("int main("); m != std::string::npos) l.replace(m, 9, "int main_(");
                    body << l << "\n";
                }
                if (!program && !declarations) body << "}\n";
                body << "}  // namespace\n";
                ++compiled;
            }
        }
        std::ofstream out(argv[1]);
        out << "// Generated by extract_snippets from the docs: do not edit.\n"
            << "// main's implicit return 0 does not carry over to the renamed main_ of the programs\n"
            << "#pragma GCC diagnostic ignored \"-Wreturn-type\"\n";
        for (const auto& i : includes) out << i << "\n";
        out << "#include <ferrum/ferrum.hpp>\n#include <cstdio>\n#include <iostream>\n#include <string>\n#include <vector>\n"
            << "namespace nn = ferrum::nn;\n"
            << body.str();
        if (!out.flush()) throw std::runtime_error(std::string("cannot write ") + argv[1]);
        for (const auto& m : side)
            if (!m.used) throw std::runtime_error("no block of " + m.doc + " contains '" + m.text + "' (stale marker)");
        std::cout << "extract_snippets: " << compiled << " blocks to compile, " << skipped << " skipped\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "extract_snippets: " << e.what() << "\n";
        return 1;
    }
}
