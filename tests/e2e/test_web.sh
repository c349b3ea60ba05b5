#!/bin/sh
# test_web.sh - the web page (docs/web.md) in a real headless Chromium
# against a real chatd node: tests/web/test_web.py drives the browser
# (selenium, Debian's chromium and chromedriver from scripts/deps.sh) and
# checks the listener's guards with plain HTTP. Its scenarios:
#
#   t_token_and_modules           the token leaves the address bar for
#                                 sessionStorage; the modules view shows
#                                 what `livemod status` reports
#   t_narrow_screen               nothing wider than a 390 px screen
#   t_keyboard                    Tab alone goes round every control and
#                                 scrollable table, in the page's order
#   t_pending_and_update_selected v2 installed: pending shows the modules,
#                                 the CLI's very script lines and {ok,[]};
#                                 "Update selected" (one of two, picked with
#                                 the keyboard) applies it: check and eval
#                                 {ok,[]}, timings, a new run in history,
#                                 and a chatd connection opened before the
#                                 update answers /version with the new one
#   t_rollback_to_1               "Roll back to 1", Escape cancels, Enter
#                                 confirms: `livemod history` says 1, the
#                                 same connection runs v1 again
#   t_try_and_make_permanent      "Try only" + "Update all": current, not
#                                 permanent; "Make permanent" makes it so
#   t_apply_reviewed_plan         a CLI plan reviewed by id and applied
#   t_wrong_token                 a clear 401 message and the token form
#   t_check_failed                a staged module whose check fails: 422,
#                                 "nothing changed", the node runs the old
#   t_outside_browser             foreign Host 421 (another name, no port,
#                                 another port), no CORS header on a
#                                 preflight nor an answer, the page's CSP,
#                                 nosniff, Referrer-Policy, /ui/x 404, no
#                                 page on agent.sock
#   t_boot_fallback               a release whose init fails goes live by
#                                 code_change; chatd killed and restarted
#                                 boots the release before: the page shows
#                                 the fallback notice with the reason and
#                                 the release marked "boot failed"; with
#                                 the node killed, `livemod web` exits 3
#   t_console                     the browser's console: no CSP violation,
#                                 no uncaught script error
#   t_clean_stop                  a clean stop removes STATE/http;
#                                 `livemod web` exits 3
#
# A missing browser is a failure, not a skip: scripts/deps.sh installs it.
# LM_WEB_SCREENSHOT=docs/web.png saves the page after the update.
cd "$(dirname "$0")/../.." || exit 2
TOP=$(pwd)
missing=""
for f in /usr/bin/chromium /usr/bin/chromedriver; do
	[ -x "$f" ] || missing="$missing $f"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	missing="$missing python3-selenium"
if [ -n "$missing" ]; then
	echo "test_web: FAILED: missing$missing (sh scripts/deps.sh installs chromium chromium-driver python3-selenium)"
	exit 1
fi
if ! make --no-print-directory -s chatd > /dev/null 2>&1; then
	echo "test_web: cannot build chatd (make chatd)"
	make --no-print-directory chatd 2>&1 | tail -20
	exit 1
fi
TOP=$TOP LIVEMOD=${LIVEMOD:-$TOP/build/livemod} CHATD_BUILD=$TOP/build/chatd \
	exec /usr/bin/python3 tests/web/test_web.py
