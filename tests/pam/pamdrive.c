/* SPDX-License-Identifier: ISC */
/*
 * pamdrive: a minimal PAM application for the tests.  It runs one service
 * from a private folder (pam_start_confdir, no /etc/pam.d, no preload),
 * answers each prompt with the next line of stdin, prints every message,
 * and ends with "result: NAME" (exit status: the PAM code).
 *
 *   pamdrive CONFDIR SERVICE USER auth|session
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	struct pam_response	*r;
	char			 line[1024];
	int			 i;

	(void)arg;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			printf("info: %s\n", msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			printf("error: %s\n", msg[i]->msg);
			break;
		default:
			printf("prompt: %s\n", msg[i]->msg);
			if (fgets(line, sizeof(line), stdin) == NULL) {
				free(r);
				return PAM_CONV_ERR;
			}
			line[strcspn(line, "\n")] = '\0';
			r[i].resp = strdup(line);
			break;
		}
	}
	fflush(stdout);
	*resp = r;
	return PAM_SUCCESS;
}

static const char *
code_name(int rc)
{
	switch (rc) {
	case PAM_SUCCESS:		return "PAM_SUCCESS";
	case PAM_AUTH_ERR:		return "PAM_AUTH_ERR";
	case PAM_AUTHINFO_UNAVAIL:	return "PAM_AUTHINFO_UNAVAIL";
	case PAM_USER_UNKNOWN:		return "PAM_USER_UNKNOWN";
	case PAM_SERVICE_ERR:		return "PAM_SERVICE_ERR";
	case PAM_CONV_ERR:		return "PAM_CONV_ERR";
	case PAM_PERM_DENIED:		return "PAM_PERM_DENIED";
	}
	return "PAM_OTHER";
}

int
main(int argc, char **argv)
{
	struct pam_conv	 c = { conv, NULL };
	pam_handle_t	*pamh = NULL;
	int		 rc;

	if (argc != 5) {
		fprintf(stderr, "usage: pamdrive CONFDIR SERVICE USER "
		    "auth|session\n");
		return 2;
	}
	rc = pam_start_confdir(argv[2], argv[3], &c, argv[1], &pamh);
	if (rc == PAM_SUCCESS) {
		if (strcmp(argv[4], "auth") == 0)
			rc = pam_authenticate(pamh, 0);
		else if (strcmp(argv[4], "session") == 0) {
			rc = pam_open_session(pamh, 0);
			if (rc == PAM_SUCCESS)
				rc = pam_close_session(pamh, 0);
		} else
			rc = PAM_SERVICE_ERR;
		pam_end(pamh, rc);
	}
	printf("result: %s\n", code_name(rc));
	return rc;
}
