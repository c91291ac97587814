/*
 * sha256: the SHA-256 hash (FIPS 180-4), for document and text
 * identities.  A struct sha256 is a plain value owned by its caller.
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_HEX	(2 * SHA256_LEN + 1)

struct sha256 {
	uint32_t	h[8];
	uint64_t	bytes;
	unsigned char	block[64];
	size_t		fill;
};

void	sha256_init(struct sha256 *c);
void	sha256_update(struct sha256 *c, const void *p, size_t n);
void	sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN]);
/* The lower-case hex SHA-256 of P[0..N) into HEX (SHA256_HEX bytes). */
void	sha256_hex(const void *p, size_t n, char hex[SHA256_HEX]);

#endif /* SHA256_H */
