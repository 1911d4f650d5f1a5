// Package ellastub is a small stand-in for ELLA itself (not for any server it talks to), so
// the ELLA deploy's activities run against real PostgreSQL, supervisord and SMTP without the
// ELLA image: an `ella-cli` with the commands a deploy uses (broadcast new/deactivate/list,
// database compare/upgrade head, users add_groups, filterconfigs update) working on real
// PostgreSQL tables the way ELLA does (broadcast, alembic_version, uiexception, usergroup,
// filterconfig), and the programs supervisord runs (nginx, api, polling, analysis-watcher),
// one tiny process in different modes, nginx serving the web page.
//
// A stand-in "image" is a small text file (WriteImage) naming its version and its migration
// head, the way a real .sif carries ELLA's code and its alembic scripts; the stub reads it
// through the path it is given (the production symlink or a release), so switching the
// symlink switches the version the commands and the page run. The database is DB_URL from
// the environment, as ELLA's is. SQL runs through psql with its variables (:'name'), so a
// value (a broadcast message with quotes or $(...)) is always data, never SQL or shell.
package ellastub
