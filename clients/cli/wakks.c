/* SPDX-License-Identifier: MPL-2.0 */
int main(void) { return 0; }
