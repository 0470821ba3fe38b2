/* SPDX-License-Identifier: MPL-2.0 */
#include "test.h"
int main(void)
{
	CHECK(1);
	return TEST_RESULT();
}
