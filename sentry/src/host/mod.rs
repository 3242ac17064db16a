//! Every access the sentry makes to host files goes through this module, so that it can later move behind a file proxy.
