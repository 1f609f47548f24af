// echo: reads the request eventfd (blocking) and adds what it read to the
// answer eventfd, forever. Arguments: the two descriptor numbers.
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	int req = atoi(argv[argc - 2]), ans = atoi(argv[argc - 1]);
	uint64_t v;
	while (read(req, &v, 8) == 8) {
		if (write(ans, &v, 8) != 8) return 1;
	}
	return 0;
}
