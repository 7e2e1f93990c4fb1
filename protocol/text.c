/* SPDX-License-Identifier: ISC */
/*
 * Text that came from the daemon (token names, user names, PAM messages)
 * on its way to a terminal (tokend.h): tokenctl and pam_tokend's session
 * warning use it, so neither passes an escape sequence through.
 */
#include <stddef.h>

#include "tokend.h"

void
tokend_text_clean(const char *s, char *buf, size_t size)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;

	if (size == 0)
		return;
	while (*p != '\0' && i < size - 1) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			buf[i++] = '?';
			p += 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			buf[i++] = '?';
			p++;
		} else
			buf[i++] = (char)*p++;
	}
	buf[i] = '\0';
}
