/* SPDX-License-Identifier: ISC */
/*
 * Terminal handling: prompts go to stderr, answers come from stdin one
 * line at a time, read with read(2) a byte at a time so that several
 * prompts each take exactly one line of a pipe.  On a terminal, secrets
 * are read with echo off (like readpassphrase(3)); a signal during such a
 * read restores the terminal before it takes effect.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tokenctl.h"

static const int prompt_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
#define PROMPT_NSIGNALS	(sizeof(prompt_signals) / sizeof(prompt_signals[0]))

static volatile sig_atomic_t	prompt_caught;
static int			prompt_watched = -1;

void
prompt_watch(int fd)
{
	prompt_watched = fd;
}

static void
prompt_signal_cb(int sig)
{
	prompt_caught = sig;
}

int
prompt_isatty(void)
{
	return isatty(STDIN_FILENO);
}

/*
 * Read one line into buf[PROMPT_LINE_MAX + 1]; 0 line, 1 end of input
 * (nothing read), -1 error.  A last line without a newline counts.
 */
static int
prompt_getline(char *buf, size_t *len, const char **cause)
{
	ssize_t	n;
	size_t	i = 0;
	int	toolong = 0;
	char	c;

	for (;;) {
		if (prompt_caught) {
			*cause = "interrupted";
			return -1;
		}
		/* Stop waiting for the person once the daemon has given up. */
		if (prompt_watched != -1) {
			struct pollfd	pfd[2] = {
				{ .fd = STDIN_FILENO, .events = POLLIN },
				{ .fd = prompt_watched, .events = POLLIN },
			};

			if (poll(pfd, 2, -1) == -1) {
				if (errno == EINTR)
					continue;
				*cause = "poll";
				return -1;
			}
			if (pfd[1].revents != 0 && pfd[0].revents == 0) {
				*cause = "the daemon ended the conversation";
				return -1;
			}
		}
		n = read(STDIN_FILENO, &c, 1);
		if (n == -1 && errno == EINTR && !prompt_caught)
			continue;
		if (n == -1) {
			*cause = prompt_caught ? "interrupted" :
			    "cannot read standard input";
			return -1;
		}
		if (n == 0) {
			if (i == 0 && !toolong)
				return 1;
			break;
		}
		if (c == '\n')
			break;
		if (i == PROMPT_LINE_MAX)
			toolong = 1;	/* drain the rest of the line */
		else
			buf[i++] = c;
	}
	buf[i] = '\0';
	*len = i;
	if (toolong) {
		*cause = "input line too long";
		return -1;
	}
	return 0;
}

/* Show prompt; the user's Enter ends its line unless the tty does not echo. */
static void
prompt_show(const char *prompt)
{
	size_t	len;

	if (prompt == NULL || *prompt == '\0')
		return;
	len = strlen(prompt);
	fputs(prompt, stderr);
	if (!isspace((unsigned char)prompt[len - 1]))
		fputc(' ', stderr);
	fflush(stderr);
}

int
prompt_read(const char *prompt, int echo, char **line, const char **cause)
{
	struct termios		 old, noecho;
	struct sigaction	 sa, oldsa[PROMPT_NSIGNALS];
	char			 buf[PROMPT_LINE_MAX + 1];
	size_t			 i, len = 0;
	int			 rc, tty, restore = 0;

	*line = NULL;
	tty = prompt_isatty();
	prompt_caught = 0;
	if (tty && !echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_handler = prompt_signal_cb;	/* no SA_RESTART */
		for (i = 0; i < PROMPT_NSIGNALS; i++)
			sigaction(prompt_signals[i], &sa, &oldsa[i]);
		noecho = old;
		noecho.c_lflag &= ~(ECHO | ECHONL);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == 0)
			restore = 1;
	}
	prompt_show(prompt);

	rc = prompt_getline(buf, &len, cause);

	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
	if (tty && !echo) {
		for (i = 0; i < PROMPT_NSIGNALS; i++)
			sigaction(prompt_signals[i], &oldsa[i], NULL);
	}
	/* Nothing was echoed: end the prompt's line. */
	if (prompt != NULL && *prompt != '\0' && (!tty || !echo || rc != 0)) {
		fputc('\n', stderr);
		fflush(stderr);
	}
	if (prompt_caught) {
		tokend_wipe(buf, sizeof(buf));
		raise(prompt_caught);
		*cause = "interrupted";
		return -1;
	}
	if (rc == 0 && (*line = strdup(buf)) == NULL) {
		*cause = "out of memory";
		rc = -1;
	}
	tokend_wipe(buf, sizeof(buf));
	return rc;
}

int
prompt_token(const char *prompt, char **token, const char **cause)
{
	char	*line, *start, *end;
	int	 rc;

	*token = NULL;
	rc = prompt_read(prompt_isatty() ? prompt : NULL, 0, &line, cause);
	if (rc != 0)
		return rc;
	for (start = line; isspace((unsigned char)*start); start++)
		;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*start == '\0') {
		prompt_free(line);
		return 1;
	}
	memmove(line, start, strlen(start) + 1);
	*token = line;
	return 0;
}

int
prompt_confirm(const char *question, const char **cause)
{
	char	*line;
	int	 rc, yes;

	rc = prompt_read(question, 1, &line, cause);
	if (rc == -1)
		return -1;
	if (rc == 1)
		return 0;
	yes = strcmp(line, "yes") == 0;
	prompt_free(line);
	return yes;
}

void
prompt_free(char *s)
{
	if (s == NULL)
		return;
	tokend_wipe(s, strlen(s));
	free(s);
}
