/*
 * plain.c - an ordinary shared library with no livemod descriptor, as a
 * host may install beside its modules.
 */
int plain_helper(int x);

int plain_helper(int x)
{
	return x * 2;
}
