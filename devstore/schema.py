"""The subset of Shopify's Admin GraphQL schema (2026-10) the devstore answers, as SDL.

Names, types and nullability follow Shopify's schema for the fields kept; a query for anything
else fails validation like a query for a field Shopify does not have."""

SDL = """
schema {
  query: QueryRoot
}

scalar DateTime
scalar UnsignedInt64
scalar URL

interface Node {
  id: ID!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum OrderSortKeys {
  CREATED_AT
  UPDATED_AT
  PROCESSED_AT
  ID
  ORDER_NUMBER
  RELEVANCE
}

enum ProductSortKeys {
  TITLE
  CREATED_AT
  UPDATED_AT
  ID
  RELEVANCE
}

enum OrderDisplayFinancialStatus {
  PAID
  PARTIALLY_PAID
  PARTIALLY_REFUNDED
  REFUNDED
  PENDING
  AUTHORIZED
  VOIDED
  EXPIRED
}

type ShopPlan {
  displayName: String!
  partnerDevelopment: Boolean!
  shopifyPlus: Boolean!
}

type Shop implements Node {
  id: ID!
  name: String!
  email: String!
  myshopifyDomain: String!
  ianaTimezone: String!
  currencyCode: String!
  plan: ShopPlan!
}

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  email: String
}

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  displayName: String!
  sku: String
  price: String!
  product: Product!
}

type ProductVariantEdge {
  cursor: String!
  node: ProductVariant!
}

type ProductVariantConnection {
  nodes: [ProductVariant!]!
  edges: [ProductVariantEdge!]!
  pageInfo: PageInfo!
}

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  vendor: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductVariantConnection!
}

type ProductEdge {
  cursor: String!
  node: Product!
}

type ProductConnection {
  nodes: [Product!]!
  edges: [ProductEdge!]!
  pageInfo: PageInfo!
}

type LineItem implements Node {
  id: ID!
  title: String!
  name: String!
  variantTitle: String
  sku: String
  quantity: Int!
  currentQuantity: Int!
  product: Product
  variant: ProductVariant
}

type LineItemEdge {
  cursor: String!
  node: LineItem!
}

type LineItemConnection {
  nodes: [LineItem!]!
  edges: [LineItemEdge!]!
  pageInfo: PageInfo!
}

type RefundLineItem {
  id: ID!
  lineItem: LineItem!
  quantity: Int!
}

type RefundLineItemEdge {
  cursor: String!
  node: RefundLineItem!
}

type RefundLineItemConnection {
  nodes: [RefundLineItem!]!
  edges: [RefundLineItemEdge!]!
  pageInfo: PageInfo!
}

type Refund implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  createdAt: DateTime
  note: String
  refundLineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): RefundLineItemConnection!
}

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: String
  closedAt: DateTime
  closed: Boolean!
  test: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  customer: Customer
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
  refunds(first: Int): [Refund!]!
}

type OrderEdge {
  cursor: String!
  node: Order!
}

type OrderConnection {
  nodes: [Order!]!
  edges: [OrderEdge!]!
  pageInfo: PageInfo!
}

type QueryRoot {
  shop: Shop!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: OrderSortKeys = ID, query: String): OrderConnection!
  product(id: ID!): Product
  products(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: ProductSortKeys = ID, query: String): ProductConnection!
}
"""
