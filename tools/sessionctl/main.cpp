// sessionctl: count, list, show and end sessions in a Redis or SQLite store, for operators.
//
//   sessionctl --store URL [--json] [--redis-prefix P] [--timeout MS] [--progress] COMMAND ...
//
// Exit codes: 0 done; 1 the store failed or cannot be reached; 2 bad usage (flags, URL);
// 3 no such session; 4 `clear` not confirmed.

#include "store_client.hpp"

#include <sessionkit/json.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/time.hpp>

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

using sessionctl::store_client;

constexpr int exit_ok = 0, exit_store = 1, exit_usage = 2, exit_not_found = 3, exit_aborted = 4;
constexpr std::size_t page_size = 500;

const char* usage_text = R"(Usage: sessionctl --store URL [options] COMMAND [ARG]

Looks after the sessions in a sessionkit (or express-session + connect-redis) store.

Commands:
  count              how many live sessions there are
  list               one line per session: id prefix, user, expiry, size in bytes
  show ID            the stored record of a session (ID: the id, or a prefix of 6+ characters
                     that only one session has)
  destroy ID         ends that session
  by-user NAME       the sessions of a logged-in user (as list; through the store's user index,
                     no walk over all sessions)
  destroy-user NAME  ends every session of that user ("log out everywhere")
  clear              ends every session (asks first; --yes does not)
An ID may begin with '-' (ids are base64url): it is taken as the ID right after its command,
or after "--".

Options:
  --store URL        redis://[user:password@]host:port[/db], rediss://... (TLS),
                     redis-sentinel://host:port[,host:port...]/MASTER (rediss-sentinel:// with TLS),
                     redis-cluster://host:port[,host:port...] (rediss-cluster:// with TLS),
                     unix:/path.sock[?db=N], or sqlite:PATH
  --redis-prefix P   key prefix of the sessions in Redis (default sess:)
  --redis-user-prefix P  key prefix of the user index's sets in Redis (default sessionkit-user:)
  --redis-tls-ca FILE, --redis-tls-cert FILE, --redis-tls-key FILE   rediss: CA, client certificate, key
  --json             machine-readable output (list: an array; full ids)
  --progress         report progress on stderr while walking the store (default: when stderr
                     is a terminal)
  --timeout MS       connect and command timeout (default 5000)
  --yes              clear without asking
  --help             this text

Exit codes: 0 done, 1 store failed or unreachable, 2 bad usage, 3 no such session,
4 clear not confirmed.
)";

struct arguments {
  sessionctl::store_settings store;
  bool json = false;
  bool progress = false;
  bool yes = false;
  std::string command;
  std::string id;
};

arguments parse(int argc, char** argv) {
  arguments a;
  a.progress = ::isatty(STDERR_FILENO) != 0;
  bool store_given = false;
  bool positional_only = false;  // after "--"
  const auto takes_argument = [](const std::string& command) {
    return command == "show" || command == "destroy" || command == "by-user" || command == "destroy-user";
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    // A session id may begin with '-' (base64url): after a command that takes one, an argument
    // that is no option is the id; "--" ends the options in any case.
    if (arg == "--" && !positional_only) {
      positional_only = true;
      continue;
    }
    const bool is_id = positional_only || (takes_argument(a.command) && a.id.empty() && arg.size() > 1 &&
                                           arg[0] == '-' && arg.rfind("--", 0) != 0);
    if (is_id && a.command.empty()) {
      a.command = arg;
      continue;
    }
    if (is_id) {
      if (!a.id.empty()) throw sessionctl::usage_error("unexpected argument '" + arg + "'");
      a.id = arg;
      continue;
    }
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw sessionctl::usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      a.command = "help";
      return a;
    } else if (arg == "--store") {
      a.store.url = value();
      store_given = true;
    } else if (arg == "--redis-prefix") {
      a.store.redis_prefix = value();
    } else if (arg == "--redis-user-prefix") {
      a.store.redis_user_prefix = value();
    } else if (arg == "--redis-tls-ca") {
      a.store.tls_ca = value();
    } else if (arg == "--redis-tls-cert") {
      a.store.tls_cert = value();
    } else if (arg == "--redis-tls-key") {
      a.store.tls_key = value();
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--progress") {
      a.progress = true;
    } else if (arg == "--yes") {
      a.yes = true;
    } else if (arg == "--timeout") {
      const std::string v = value();
      try {
        std::size_t used = 0;
        const long long ms = std::stoll(v, &used);
        if (used != v.size() || ms < 1 || ms > 600000) throw std::out_of_range(v);
        a.store.timeout = std::chrono::milliseconds(ms);
      } catch (const std::exception&) {
        throw sessionctl::usage_error("--timeout: expected milliseconds from 1 to 600000, got '" + v + "'");
      }
    } else if (!arg.empty() && arg[0] == '-') {
      throw sessionctl::usage_error("unknown option '" + arg + "' (see --help)");
    } else if (a.command.empty()) {
      a.command = arg;
    } else if (a.id.empty()) {
      a.id = arg;
    } else {
      throw sessionctl::usage_error("unexpected argument '" + arg + "'");
    }
  }
  if (a.command.empty()) throw sessionctl::usage_error("no command given (see --help)");
  static const std::vector<std::string> commands{"count", "list", "show", "destroy", "clear", "by-user", "destroy-user"};
  if (std::find(commands.begin(), commands.end(), a.command) == commands.end())
    throw sessionctl::usage_error("unknown command '" + a.command + "' (see --help)");
  const bool takes_user = a.command == "by-user" || a.command == "destroy-user";
  const bool takes_id = a.command == "show" || a.command == "destroy" || takes_user;
  if (takes_id && a.id.empty())
    throw sessionctl::usage_error(a.command + (takes_user ? " needs a user name" : " needs a session id"));
  if (!takes_id && !a.id.empty()) throw sessionctl::usage_error(a.command + " takes no argument");
  if (!store_given) throw sessionctl::usage_error("--store URL is required");
  return a;
}

std::string json_string(std::string_view s) {
  std::string out;
  sessionkit::append_json_string(out, s);
  return out;
}

// The session's user, when its data names one: a top-level "user" string or number.
std::string user_of(const std::string& record) {
  std::error_code ec;
  auto value = sessionkit::parse_json(record, ec);
  if (!value || !value->is_object()) return {};
  const boost::json::value* user = value->get_object().if_contains("user");
  if (!user) return {};
  if (user->is_string()) return std::string(user->get_string());
  if (user->is_number()) return sessionkit::stringify(*user);
  return {};
}

std::string shown_id(const std::string& id) { return id.size() <= 8 ? id : id.substr(0, 8) + "…"; }

// `shown_id` padded to 10 columns (the ellipsis is one column, three bytes).
std::string id_cell(const std::string& id) {
  std::string cell = shown_id(id);
  const std::size_t columns = id.size() <= 8 ? id.size() : 9;
  if (columns < 10) cell.append(10 - columns, ' ');
  return cell;
}

// One session as `list` shows it (a line, or an element of the JSON array).
void print_line(const arguments& a, const sessionkit::listed_session& s, bool& first) {
  const std::string user = user_of(s.json);
  const std::string expires = s.expires ? sessionkit::format_iso_date(*s.expires) : "";
  if (a.json) {
    std::cout << (first ? "\n" : ",\n") << R"({"id":)" << json_string(s.id)
              << R"(,"user":)" << (user.empty() ? "null" : json_string(user))
              << R"(,"expires":)" << (expires.empty() ? "null" : json_string(expires))
              << R"(,"bytes":)" << s.json.size() << "}";
  } else {
    std::printf("%s %-20s %-26s %zu\n", id_cell(s.id).c_str(), user.empty() ? "-" : user.c_str(),
                expires.empty() ? "-" : expires.c_str(), s.json.size());
  }
  first = false;
}

// Walks the whole store a page at a time; `visit` sees each session once (ids seen twice, as
// Redis SCAN may give them, are skipped while the walk stays within one page's memory).
template <class Visit>
std::size_t walk(store_client& store, bool progress, Visit&& visit) {
  std::string cursor;
  std::size_t count = 0;
  std::vector<std::string> last_page;
  do {
    sessionkit::session_page page = store.page(cursor, page_size);
    std::vector<std::string> this_page;
    for (auto& s : page.sessions) {
      if (std::find(last_page.begin(), last_page.end(), s.id) != last_page.end()) continue;
      this_page.push_back(s.id);
      ++count;
      visit(s);
    }
    last_page = std::move(this_page);
    cursor = std::move(page.next);
    if (progress) std::fprintf(stderr, "\rscanned %zu sessions%s", count, cursor.empty() ? "\n" : "");
  } while (!cursor.empty());
  return count;
}

// The id a command means: the id itself if it has a session, else the one session whose id
// starts with it (6 characters at least).
std::optional<std::string> resolve(store_client& store, const std::string& id, bool progress) {
  if (store.get(id)) return id;
  if (id.size() < 6) return std::nullopt;
  std::vector<std::string> matches;
  walk(store, progress, [&](const sessionkit::listed_session& s) {
    if (s.id.compare(0, id.size(), id) == 0 && matches.size() < 2) matches.push_back(s.id);
  });
  if (matches.size() > 1) throw sessionctl::usage_error("'" + id + "' is the start of more than one session id");
  if (matches.empty()) return std::nullopt;
  return matches.front();
}

int run(const arguments& a) {
  store_client store(a.store);
  if (a.command == "count") {
    const std::size_t n = walk(store, a.progress, [](const sessionkit::listed_session&) {});
    if (a.json) std::cout << R"({"count":)" << n << "}\n";
    else std::cout << n << "\n";
    return exit_ok;
  }
  if (a.command == "list") {
    bool first = true;
    if (a.json) std::cout << "[";
    else std::printf("%-10s %-20s %-26s %s\n", "ID", "USER", "EXPIRES", "BYTES");
    walk(store, a.progress, [&](const sessionkit::listed_session& s) { print_line(a, s, first); });
    if (a.json) std::cout << (first ? "]\n" : "\n]\n");
    std::cout.flush();
    return exit_ok;
  }
  if (a.command == "by-user") {
    bool first = true;
    if (a.json) std::cout << "[";
    else std::printf("%-10s %-20s %-26s %s\n", "ID", "USER", "EXPIRES", "BYTES");
    for (const auto& s : store.sessions_of(a.id)) print_line(a, s, first);
    if (a.json) std::cout << (first ? "]\n" : "\n]\n");
    std::cout.flush();
    return exit_ok;
  }
  if (a.command == "destroy-user") {
    std::vector<std::string> ids;
    for (const auto& s : store.sessions_of(a.id)) ids.push_back(s.id);
    store.destroy_all(ids);
    if (a.json) std::cout << R"({"destroyed":)" << ids.size() << "}\n";
    else std::cout << "destroyed " << ids.size() << " sessions of " << a.id << "\n";
    return exit_ok;
  }
  if (a.command == "show" || a.command == "destroy") {
    const auto id = resolve(store, a.id, a.progress);
    const auto record = id ? store.get(*id) : std::nullopt;
    if (!record) {
      std::cerr << "sessionctl: no session " << shown_id(a.id) << " in " << store.shown_url() << "\n";
      return exit_not_found;
    }
    if (a.command == "show") {
      if (a.json) std::cout << R"({"id":)" << json_string(*id) << R"(,"record":)" << *record << "}\n";
      else std::cout << *record << "\n";
      return exit_ok;
    }
    store.destroy(*id);
    if (a.json) std::cout << R"({"destroyed":)" << json_string(*id) << "}\n";
    else std::cout << "destroyed " << shown_id(*id) << "\n";
    return exit_ok;
  }
  // clear
  if (!a.yes) {
    if (!::isatty(STDIN_FILENO)) {
      std::cerr << "sessionctl: clear ends every session in " << store.shown_url()
                << "; not confirmed (no terminal to ask): add --yes\n";
      return exit_aborted;
    }
    std::cerr << "End every session in " << store.shown_url() << "? Type yes: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "yes") {
      std::cerr << "sessionctl: not confirmed; nothing was changed\n";
      return exit_aborted;
    }
  }
  std::size_t destroyed = 0;
  std::vector<std::string> batch;
  walk(store, a.progress, [&](const sessionkit::listed_session& s) {
    batch.push_back(s.id);
    if (batch.size() >= page_size) {
      store.destroy_all(batch);
      destroyed += batch.size();
      batch.clear();
    }
  });
  store.destroy_all(batch);
  destroyed += batch.size();
  if (a.json) std::cout << R"({"destroyed":)" << destroyed << "}\n";
  else std::cout << "destroyed " << destroyed << " sessions\n";
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const arguments a = parse(argc, argv);
    if (a.command == "help") {
      std::cout << usage_text;
      return exit_ok;
    }
    return run(a);
  } catch (const sessionctl::usage_error& e) {
    std::cerr << "sessionctl: " << e.what() << "\n";
    return exit_usage;
  } catch (const sessionctl::store_error& e) {
    std::cerr << "sessionctl: " << e.what() << "\n";
    return exit_store;
  } catch (const std::exception& e) {
    std::cerr << "sessionctl: " << e.what() << "\n";
    return exit_store;
  }
}
