#include "fs/vfs/filesystem.h"

#include <sys/sysmacros.h>

#include <atomic>

namespace moat::fs {
namespace {

// Anonymous device minors for nodev file systems (Linux's get_anon_bdev).
uint64_t AllocateAnonDev() {
  static std::atomic<uint32_t> next{1};
  return makedev(0, next.fetch_add(1));
}

}  // namespace

Dentry::Dentry(Filesystem& fs, std::shared_ptr<Dentry> parent, std::string name,
               std::shared_ptr<Inode> inode)
    : fs_(fs),
      inode_(std::move(inode)),
      parent_(std::move(parent)),
      name_(std::move(name)) {}

Filesystem::Filesystem() : dev_(AllocateAnonDev()) {}

Filesystem::~Filesystem() = default;

void Filesystem::SetRoot(std::shared_ptr<Inode> root) {
  root_ = std::make_shared<Dentry>(*this, nullptr, "/", std::move(root));
}

void Filesystem::ClearCache() {
  if (!root_) return;
  absl::MutexLock lock(&tree_mu_);
  std::vector<std::shared_ptr<Dentry>> stack = {root_};
  while (!stack.empty()) {
    std::shared_ptr<Dentry> d = std::move(stack.back());
    stack.pop_back();
    for (auto& [name, child] : d->children_) stack.push_back(std::move(child));
    d->children_.clear();
  }
}

ErrorOr<std::vector<std::shared_ptr<Inode>>> Filesystem::LookupInodes(
    Inode& dir, absl::Span<const std::string_view> names) {
  std::vector<std::shared_ptr<Inode>> out;
  Inode* cur = &dir;
  for (std::string_view name : names) {
    if (!cur->IsDir()) break;
    ErrorOr<std::shared_ptr<Inode>> child = cur->Lookup(name);
    if (!child.ok()) {
      if (out.empty()) return Errno{child.error()};
      break;
    }
    out.push_back(std::move(*child));
    cur = out.back().get();
  }
  return out;
}

ErrorOr<std::shared_ptr<Dentry>> Filesystem::LookupChild(Dentry& dir,
                                                         std::string_view name) {
  std::vector<std::shared_ptr<Dentry>> walked =
      TRY(WalkChildren(dir, absl::MakeConstSpan(&name, 1)));
  return std::move(walked.front());
}

ErrorOr<std::vector<std::shared_ptr<Dentry>>> Filesystem::WalkChildren(
    Dentry& dir, absl::Span<const std::string_view> names) {
  if (!dir.inode().IsDir()) return Errno{ENOTDIR};
  std::vector<std::shared_ptr<Dentry>> out;
  Dentry* cur = &dir;
  // Serve the cached prefix first; ask the file system for the rest in one
  // call.
  size_t i = 0;
  for (; i < names.size(); ++i) {
    if (!cur->inode().IsDir()) return out;
    auto it = cur->children_.find(
        absl::string_view(names[i].data(), names[i].size()));
    if (it == cur->children_.end()) break;
    if (!Revalidate(*cur, *it->second)) {
      Forget(*it->second);
      break;
    }
    out.push_back(it->second);
    cur = out.back().get();
  }
  if (i == names.size() || !cur->inode().IsDir()) return out;
  ErrorOr<std::vector<std::shared_ptr<Inode>>> inodes =
      LookupInodes(cur->inode(), names.subspan(i));
  if (!inodes.ok()) {
    if (out.empty()) return Errno{inodes.error()};
    return out;
  }
  for (size_t j = 0; j < inodes->size(); ++j) {
    out.push_back(AddChild(*cur, names[i + j], std::move((*inodes)[j])));
    cur = out.back().get();
  }
  return out;
}

std::shared_ptr<Dentry> Filesystem::AddChild(Dentry& dir, std::string_view name,
                                             std::shared_ptr<Inode> inode) {
  auto child = std::make_shared<Dentry>(*this, dir.shared_from_this(),
                                        std::string(name), std::move(inode));
  dir.children_[std::string(name)] = child;
  return child;
}

void Filesystem::Forget(Dentry& child) {
  child.dead_ = true;
  if (child.parent_) {
    auto it = child.parent_->children_.find(child.name_);
    if (it != child.parent_->children_.end() && it->second.get() == &child) {
      child.parent_->children_.erase(it);
    }
  }
}

void Filesystem::Move(Dentry& child, Dentry& new_parent,
                      std::string_view new_name) {
  std::shared_ptr<Dentry> self = child.shared_from_this();
  auto it = child.parent_->children_.find(child.name_);
  if (it != child.parent_->children_.end() && it->second == self) {
    child.parent_->children_.erase(it);
  }
  child.parent_ = new_parent.shared_from_this();
  child.name_ = std::string(new_name);
  new_parent.children_[child.name_] = std::move(self);
}

bool Filesystem::IsAncestor(const Dentry& ancestor, const Dentry& d) const {
  for (const Dentry* p = &d; p != nullptr; p = p->parent_.get()) {
    if (p == &ancestor) return true;
  }
  return false;
}

}  // namespace moat::fs
