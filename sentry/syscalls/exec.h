// Starting a program by path from inside the sentry, as execve(2) does: the
// sandbox's init is exec'd this way into an empty task (as Linux's
// kernel_execve starts /sbin/init), so it goes through the same VFS lookup,
// permission checks, "#!" handling and ELF interpreter loading as any
// execve the application makes.
#ifndef MOAT_SENTRY_SYSCALLS_EXEC_H_
#define MOAT_SENTRY_SYSCALLS_EXEC_H_

#include <string>
#include <vector>

#include "sentry/base/error_or.h"

namespace moat {

class Task;

// Replaces `task`'s image with the program at `path`, resolved in the
// task's fs context. Errors are execve's (ENOENT, EACCES, ENOEXEC, E2BIG,
// ELIBBAD...); on error the task is unchanged.
ErrorOr<void> ExecProgram(Task& task, const std::string& path,
                          std::vector<std::string> argv,
                          std::vector<std::string> envp);

}  // namespace moat

#endif  // MOAT_SENTRY_SYSCALLS_EXEC_H_
