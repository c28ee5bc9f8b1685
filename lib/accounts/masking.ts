/**
 * `j**********n@example.com`: enough for the owner to recognise the address, too little for anyone else;
 * the number of stars is fixed so the local part's length stays hidden too.
 */
export function maskEmailAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const local = [...address.slice(0, at)];
  return `${local[0]}${'*'.repeat(10)}${local[local.length - 1]}${address.slice(at)}`;
}
