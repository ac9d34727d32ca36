// A child process for integration tests: started with fork/exec, its stdout
// and stderr captured through pipes, reaped on every path.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sessionkit::test {

/// How a child ended.
struct exit_status {
    bool exited = false;     ///< true: it called exit(); `code` is valid
    int code = -1;           ///< exit code when `exited`
    int signal = 0;          ///< terminating signal when not `exited`
    bool timed_out = false;  ///< we gave up waiting and sent SIGKILL

    /// True for a normal exit with status 0 that we did not have to force.
    [[nodiscard]] bool success() const noexcept
    {
        return exited && code == 0 && !timed_out;
    }
};

/// Prints e.g. "exited with 0" or "killed by signal 9 (after timeout)".
std::ostream& operator<<(std::ostream& os, const exit_status& s);

/// What a server announced on stdout.
struct listen_address {
    std::string host;
    std::uint16_t port = 0;
    std::string line;  ///< the whole announcement line, without the line end
};

/// A running program with captured output.
///
/// A background thread drains both pipes all the time, so a chatty child
/// can never block on a full pipe. The child gets SIGKILL when the thread
/// that started it dies (PR_SET_PDEATHSIG), so a crashed or timed-out test
/// run does not leave servers behind; start children from a thread that
/// outlives them (the test's main thread).
class child_process {
public:
    /// Starts `program` (a path, not searched in PATH) with `args` as
    /// argv[1..]. stdin is /dev/null.
    /// @throws std::system_error if the program cannot be executed.
    child_process(std::string program, std::vector<std::string> args);

    /// Kills (SIGKILL) and reaps the child if it is still there.
    ~child_process();

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    [[nodiscard]] pid_t pid() const noexcept;

    /// Waits until stdout has a complete line containing
    /// `listening on http://HOST:PORT` and returns HOST and PORT.
    /// @throws std::runtime_error on timeout or if stdout closes first;
    ///         the message carries the output seen so far.
    listen_address wait_for_listening(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// Waits for the child to exit by itself; after `timeout` it is
    /// killed with SIGKILL (the result then has `timed_out` set).
    exit_status wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// Sends `sig` unless the child has already been reaped.
    void send_signal(int sig);

    /// SIGTERM, then wait() with `timeout` (SIGKILL after it).
    exit_status terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// SIGKILL and reap.
    exit_status kill();

    /// False once the child has exited (it is reaped then).
    [[nodiscard]] bool running();

    /// Everything the child wrote so far. After wait()/terminate()/kill()
    /// this is complete unless a grandchild still holds the pipe.
    [[nodiscard]] std::string stdout_text() const;
    [[nodiscard]] std::string stderr_text() const;

    /// Waits until stderr contains `needle` (the pipe is drained by a
    /// background thread, so a line the child already wrote may arrive a
    /// moment later). False when `timeout` passes first.
    [[nodiscard]] bool wait_for_stderr(const std::string& needle,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace sessionkit::test
