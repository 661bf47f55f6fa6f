// The gofer's seccomp allow-list (seccomp(2), through libseccomp): exactly
// the host syscalls GoferServer and its runtime (glibc threads, malloc,
// spdlog to stderr) make. Anything else kills the gofer. This file may not
// widen the list for convenience: each entry says who needs it.
#ifndef MOAT_GOFER_SECCOMP_POLICY_H_
#define MOAT_GOFER_SECCOMP_POLICY_H_

#include "absl/status/status.h"

namespace moat::gofer {

// Installs the filter on the calling thread; threads it creates afterwards
// inherit it. Call after every setup step (it forbids mount, chroot, capset)
// and before starting channel threads, so no request is served unfiltered.
absl::Status InstallGoferSeccompFilter();

}  // namespace moat::gofer

#endif  // MOAT_GOFER_SECCOMP_POLICY_H_
