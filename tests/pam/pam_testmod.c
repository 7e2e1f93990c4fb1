/* SPDX-License-Identifier: ISC */
/*
 * pam_testmod.so: a PAM module for the regression tests that misbehaves on
 * request, to prove the daemon survives modules that hang or die.
 *
 *   auth required /abs/path/pam_testmod.so sleep=SECONDS   hangs, then succeeds
 *   auth required /abs/path/pam_testmod.so crash           raise(SIGSEGV)
 *   auth required /abs/path/pam_testmod.so exit            _exit(3)
 *   auth required /abs/path/pam_testmod.so user=NAME       sets PAM_USER to NAME
 *                                                          (a user-mapping module)
 *   auth required /abs/path/pam_testmod.so                 PAM_SUCCESS
 *
 * Options may be combined (sleep first, then crash or exit).  The same
 * behaviour applies to pam_sm_acct_mgmt, so an "account" line can
 * misbehave after a successful "auth".  Never install this anywhere.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#include <security/pam_modules.h>

#define EXPORT	__attribute__((visibility("default")))

static int
misbehave(pam_handle_t *pamh, int argc, const char **argv)
{
	struct timespec	ts;
	long		secs;
	char		*end;
	int		i;

	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "sleep=", 6) == 0) {
			secs = strtol(argv[i] + 6, &end, 10);
			if (end == argv[i] + 6 || *end != '\0' || secs < 0)
				return PAM_SERVICE_ERR;
			ts.tv_sec = secs;
			ts.tv_nsec = 0;
			/* Sleep the whole time even if a signal interrupts. */
			while (nanosleep(&ts, &ts) == -1)
				;
		} else if (strcmp(argv[i], "crash") == 0) {
			/*
			 * The default action, so the helper dies of SIGSEGV
			 * even in a sanitizer build (ASan would catch it,
			 * report and exit 1 instead).
			 */
			signal(SIGSEGV, SIG_DFL);
			raise(SIGSEGV);
			_exit(139);	/* SIGSEGV blocked or ignored */
		} else if (strcmp(argv[i], "exit") == 0) {
			_exit(3);
		} else if (strncmp(argv[i], "user=", 5) == 0) {
			if (pam_set_item(pamh, PAM_USER, argv[i] + 5) !=
			    PAM_SUCCESS)
				return PAM_SERVICE_ERR;
		} else
			return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	return misbehave(pamh, argc, argv);
}

EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	return misbehave(pamh, argc, argv);
}
