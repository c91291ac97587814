/* t-sha256: FIPS 180-4 test vectors and incremental updates. */
#include <string.h>

#include "rp.h"
#include "sha256.h"
#include "tap.h"

int
main(void)
{
	char hex[SHA256_HEX], hex2[SHA256_HEX];
	static char big[1000000];
	unsigned char md[SHA256_LEN];
	struct sha256 c;

	sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
	    "7852b855", "empty string");
	sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
	    "f20015ad", "abc");
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, hex);
	is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
	    "19db06c1", "448-bit message (padding into a second block)");
	memset(big, 'a', sizeof(big));
	sha256_hex(big, sizeof(big), hex);
	is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39cc"
	    "c7112cd0", "one million 'a'");
	sha256_init(&c);
	for (size_t i = 0; i < sizeof(big); i += 7)
		sha256_update(&c, big + i, i + 7 <= sizeof(big) ? 7 :
		    sizeof(big) - i);
	sha256_final(&c, md);
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(hex2 + 2 * i, 3, "%02x", md[i]);
	is_str(hex2, hex, "updates of 7 bytes give the same digest");
	return tap_done();
}
