// The login demo's HTML (pages.hpp).

#include "pages.hpp"

#include "accounts.hpp"

namespace sessionkit::login_demo {
namespace {

constexpr std::string_view style = R"(
body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222;background:#fafafa}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;margin-bottom:1.5rem}
header a{color:#222;text-decoration:none;font-weight:600}
nav a,nav button{margin-left:1rem}
h1{font-size:1.5rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
label{display:block;margin:.5rem 0 .2rem}
input[type=text],input[type=password]{width:100%;padding:.45rem;border:1px solid #bbb;border-radius:4px;box-sizing:border-box}
button{padding:.45rem .9rem;border:1px solid #246;border-radius:4px;background:#246;color:#fff;cursor:pointer}
button.link{background:none;border:none;color:#246;padding:0;text-decoration:underline}
.error{color:#a00;font-weight:600}
.notice{color:#060}
table{width:100%;border-collapse:collapse}
td,th{text-align:left;padding:.4rem;border-bottom:1px solid #eee;vertical-align:top;font-size:.9rem}
.current{font-weight:600;color:#060}
.inline{display:inline}
code{background:#eee;padding:0 .25rem;border-radius:3px}
)";

std::string hidden_csrf(std::string_view csrf) {
  return R"(<input type="hidden" name="csrf" value=")" + escape(csrf) + R"(">)";
}

std::string layout(std::string_view title, std::string_view user, std::string_view csrf, std::string_view body) {
  std::string nav;
  if (!user.empty()) {
    nav = R"(<nav><a href="/sessions">Your sessions</a><form class="inline" method="post" action="/logout">)" +
          hidden_csrf(csrf) + R"(<button class="link" type="submit" id="logout">Log out</button></form></nav>)";
  } else {
    nav = R"(<nav><a href="/login">Log in</a></nav>)";
  }
  std::string out = R"(<!doctype html><html lang="en"><head><meta charset="utf-8">)"
                    R"(<meta name="viewport" content="width=device-width,initial-scale=1"><title>)";
  out += escape(title);
  out += " - sessionkit login demo</title><style>";
  out += style;
  out += R"(</style></head><body><header><a href="/">sessionkit login demo</a>)";
  out += nav;
  out += "</header><main>";
  out += body;
  out += "</main></body></html>";
  return out;
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string home_page(std::string_view user, std::string_view count, std::string_view csrf) {
  std::string body;
  if (user.empty()) {
    body = R"(<h1>Welcome</h1><div class="card"><p id="who">You are not logged in.</p>)"
           R"(<p>This page counts your visits in your session: <strong id="count">)" +
           escape(count) + R"(</strong>.</p><p><a href="/login">Log in</a> to see your sessions.</p></div>)";
  } else {
    body = R"(<h1>Hello, )" + escape(user) + R"(</h1><div class="card"><p id="who">You are logged in as <strong>)" +
           escape(user) + R"(</strong>.</p><p>Visits in this session: <strong id="count">)" + escape(count) +
           R"(</strong></p><p><a href="/sessions">Your sessions</a> lists where else you are logged in.</p></div>)";
  }
  return layout("Home", user, csrf, body);
}

std::string login_page(std::string_view csrf, std::string_view error, std::string_view user_typed) {
  std::string body = R"(<h1>Log in</h1><div class="card">)";
  if (!error.empty()) body += R"(<p class="error" id="error">)" + escape(error) + "</p>";
  body += R"(<form method="post" action="/login">)" + hidden_csrf(csrf) +
          R"(<label for="user">User name</label><input type="text" id="user" name="user" autocomplete="username" value=")" +
          escape(user_typed) +
          R"("><label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password">)"
          R"(<p><button type="submit" id="login">Log in</button></p></form></div>)"
          R"(<div class="card"><p>Demo accounts:</p><ul>)";
  for (const auto& a : demo_accounts)
    body += "<li><code>" + escape(a.name) + "</code> / <code>" + escape(a.password) + "</code></li>";
  body += "</ul></div>";
  return layout("Log in", {}, csrf, body);
}

std::string sessions_page(std::string_view user, const std::vector<session_row>& rows, std::string_view csrf,
                          std::string_view notice) {
  std::string body = R"(<h1>Your sessions</h1>)";
  if (!notice.empty()) body += R"(<p class="notice" id="notice">)" + escape(notice) + "</p>";
  body += R"(<div class="card"><table id="sessions"><tr><th>Device</th><th>Logged in</th><th>Last seen</th><th></th></tr>)";
  for (const auto& r : rows) {
    body += r.current ? R"(<tr class="session current-session">)" : R"(<tr class="session">)";
    body += "<td>" + escape(r.device.empty() ? "unknown device" : r.device) + "</td><td>" + escape(r.created) +
            "</td><td>" + escape(r.last_seen) + "</td><td>";
    if (r.current) {
      body += R"(<span class="current">this browser</span>)";
    } else {
      body += R"(<form class="inline" method="post" action="/sessions/end">)" + hidden_csrf(csrf) +
              R"(<input type="hidden" name="session" value=")" + escape(r.reference) +
              R"("><button type="submit" class="end">End</button></form>)";
    }
    body += "</td></tr>";
  }
  body += R"(</table></div><form method="post" action="/sessions/others">)" + hidden_csrf(csrf) +
          R"(<button type="submit" id="logout-others">Log out everywhere else</button></form>)";
  return layout("Your sessions", user, csrf, body);
}

std::string forbidden_page(bool cookie_came) {
  return layout("Forbidden", {}, {},
                std::string(R"(<h1>Forbidden</h1><div class="card"><p class="error" id="forbidden">This form did not come from )"
                            R"(this site (its security token is missing or wrong), so it was refused.</p><p>Your browser: <span id="cookie">)") +
                    (cookie_came ? "the session cookie came with it" : "no session cookie came with it") +
                    R"(</span>.</p><p><a href="/">Home</a></p></div>)");
}

std::string unavailable_page(std::string_view reason) {
  return layout("Unavailable", {}, {},
                R"(<h1>Please try again</h1><div class="card"><p class="error">)" + escape(reason) + "</p></div>");
}

}  // namespace sessionkit::login_demo
