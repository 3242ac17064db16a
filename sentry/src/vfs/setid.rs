//! The `set*id` rules of Linux for [`Creds`]: an effective uid of 0 stands for `CAP_SETUID`
//! and `CAP_SETGID`; without it a task may only move among its own real, effective and saved
//! ids. `None` is the syscalls' `-1` (leave unchanged).

use abi::Errno;

use super::perm::Creds;

/// The most supplementary groups (`NGROUPS_MAX`).
pub const NGROUPS_MAX: usize = 65536;

/// Which of a task's ids to change: users or groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    User,
    Group,
}

impl Creds {
    /// (real, effective, saved) of `kind`.
    pub fn ids(&self, kind: IdKind) -> (u32, u32, u32) {
        match kind {
            IdKind::User => (self.ruid, self.uid, self.suid),
            IdKind::Group => (self.rgid, self.gid, self.sgid),
        }
    }

    fn set_ids(&mut self, kind: IdKind, (r, e, s): (u32, u32, u32)) {
        match kind {
            IdKind::User => {
                let (old_any_root, old_e) =
                    (self.ruid == 0 || self.uid == 0 || self.suid == 0, self.uid);
                (self.ruid, self.uid, self.suid) = (r, e, s);
                // As Linux: leaving uid 0 everywhere drops all capabilities; leaving it as
                // the effective id drops the effective ones; coming back restores them.
                if old_any_root && r != 0 && e != 0 && s != 0 {
                    self.permitted = 0;
                    self.caps = 0;
                } else if old_e == 0 && e != 0 {
                    self.caps = 0;
                } else if old_e != 0 && e == 0 {
                    self.caps = self.permitted;
                }
            }
            IdKind::Group => (self.rgid, self.gid, self.sgid) = (r, e, s),
        }
    }

    /// Whether the task may set any id of `kind` (`CAP_SETUID`/`CAP_SETGID`).
    fn privileged_for(&self, kind: IdKind) -> bool {
        self.has_cap(match kind {
            IdKind::User => abi::caps::CAP_SETUID,
            IdKind::Group => abi::caps::CAP_SETGID,
        })
    }

    /// `setuid`/`setgid`: all three ids with privilege, else only the effective one, to the
    /// real or saved id.
    pub fn set_id(&mut self, kind: IdKind, id: u32) -> Result<(), Errno> {
        let (r, _, s) = self.ids(kind);
        if self.privileged_for(kind) {
            self.set_ids(kind, (id, id, id));
        } else if id == r || id == s {
            let (r, _, s) = self.ids(kind);
            self.set_ids(kind, (r, id, s));
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// `setreuid`/`setregid`: unprivileged, the real id may become the effective one, and
    /// the effective one any of the three. The saved id follows the new effective id when the
    /// real id is set or the effective one moves away from the old real id.
    pub fn set_re(
        &mut self,
        kind: IdKind,
        real: Option<u32>,
        eff: Option<u32>,
    ) -> Result<(), Errno> {
        let (r, e, s) = self.ids(kind);
        let may_real = real.is_none_or(|x| x == r || x == e);
        let may_eff = eff.is_none_or(|x| x == r || x == e || x == s);
        if !(self.privileged_for(kind) || may_real && may_eff) {
            return Err(Errno::EPERM);
        }
        let nr = real.unwrap_or(r);
        let ne = eff.unwrap_or(e);
        let ns = if real.is_some() || eff.is_some_and(|x| x != r) {
            ne
        } else {
            s
        };
        self.set_ids(kind, (nr, ne, ns));
        Ok(())
    }

    /// `setresuid`/`setresgid`: unprivileged, each new id must be one of the current three.
    pub fn set_res(
        &mut self,
        kind: IdKind,
        real: Option<u32>,
        eff: Option<u32>,
        saved: Option<u32>,
    ) -> Result<(), Errno> {
        let (r, e, s) = self.ids(kind);
        let own = |x: u32| x == r || x == e || x == s;
        if !self.privileged_for(kind) && [real, eff, saved].iter().flatten().any(|&x| !own(x)) {
            return Err(Errno::EPERM);
        }
        self.set_ids(
            kind,
            (real.unwrap_or(r), eff.unwrap_or(e), saved.unwrap_or(s)),
        );
        Ok(())
    }

    /// `setgroups`: privileged only; the list is kept sorted, as Linux keeps it.
    pub fn set_groups(&mut self, mut groups: Vec<u32>) -> Result<(), Errno> {
        groups.sort_unstable();
        if groups.len() > NGROUPS_MAX {
            return Err(Errno::EINVAL);
        }
        if !self.privileged_for(IdKind::Group) {
            return Err(Errno::EPERM);
        }
        self.groups = groups;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_drops_to_a_user_for_good() {
        let mut c = Creds::root();
        c.set_id(IdKind::Group, 100).unwrap();
        c.set_id(IdKind::User, 1000).unwrap();
        assert_eq!(c.ids(IdKind::User), (1000, 1000, 1000));
        assert_eq!(c.ids(IdKind::Group), (100, 100, 100));
        assert_eq!(c.set_id(IdKind::User, 0), Err(Errno::EPERM));
        assert_eq!(c.set_groups(vec![1]), Err(Errno::EPERM));
        assert_eq!(
            c.set_res(IdKind::User, None, Some(0), None),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn a_set_user_id_program_moves_between_its_ids() {
        // As after exec of a set-user-id-0 program by uid 1000: real 1000, effective 0.
        let mut c = Creds::user(1000, 1000, vec![]);
        c.uid = 0;
        c.suid = 0;
        // Drop privilege temporarily: the saved id keeps 0.
        c.set_re(IdKind::User, None, Some(1000)).unwrap();
        assert_eq!(c.ids(IdKind::User), (1000, 1000, 0));
        c.set_res(IdKind::User, None, Some(0), None).unwrap();
        assert_eq!(c.ids(IdKind::User), (1000, 0, 0));
        // setreuid(-1, 1000) with real 1000 leaves the saved id alone; setreuid(1000, 1000)
        // sets it.
        c.set_re(IdKind::User, Some(1000), Some(1000)).unwrap();
        assert_eq!(c.ids(IdKind::User), (1000, 1000, 1000));
        assert_eq!(c.set_re(IdKind::User, Some(0), None), Err(Errno::EPERM));
    }

    #[test]
    fn unprivileged_set_id_reaches_real_or_saved_only() {
        let mut c = Creds::user(5, 5, vec![]);
        c.suid = 7;
        c.set_id(IdKind::User, 7).unwrap();
        assert_eq!(c.ids(IdKind::User), (5, 7, 7));
        assert_eq!(c.set_id(IdKind::User, 9), Err(Errno::EPERM));
        assert_eq!(
            Creds::root().set_groups(vec![0; NGROUPS_MAX + 1]),
            Err(Errno::EINVAL)
        );
    }
}
